"""The list types of the clients' signatures: inside Client and AsyncClient their own `list` method shadows the
builtin, so their annotations name these instead."""

from .files import Download, UploadedFile
from .models import Profile, Session

Downloads = list[Download]
Uploads = list[UploadedFile]
Names = list[str]
Sessions = list[Session]
Profiles = list[Profile]
