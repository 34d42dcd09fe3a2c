"""Which host paths a session's CDP client may hand to Chromium: only files inside the session's own directory.

CDP methods that take file paths (DOM.setFileInputFiles, Input.dispatchDragEvent's data.files) make the
browser read those files on the client's behalf, with the browser's rights. A path counts as inside only
if it is absolute and its real path (every symlink resolved) lies under the directory's real path, so a
symlink placed in the directory that points elsewhere does not count. This costs one lstat per path
component, on a local directory: cheap enough to run inline.
"""

import os


def path_outside(paths: object, directory: str) -> str | None:
    """Why `paths` may not be given to the browser (names the first offending path), or None if all may."""
    if not isinstance(paths, list):
        return "files must be a list of paths"
    root = os.path.realpath(directory)
    for path in paths:
        if not isinstance(path, str) or not path:
            return f"{path!r} is not a path"
        if not _inside(path, root):
            return (
                f"{path!r} is not a file inside this session's own directory (the browser runs on the pool's host, "
                "not yours, and reads no other host file). Upload it into the session first (POST "
                "/v1/browser/sessions/{id}/files) and pass the path that answers, or send the file's contents "
                "instead of a path: Playwright's set_input_files with a path does so by itself over connect_over_cdp "
                "(without is_local), or pass {name, mimeType, buffer} payloads"
            )
    return None


def _inside(path: str, root: str) -> bool:
    if not os.path.isabs(path):
        return False
    try:
        real = os.path.realpath(path)
    except (OSError, ValueError):  # e.g. an embedded NUL byte
        return False
    return real != root and os.path.commonpath([root, real]) == root
