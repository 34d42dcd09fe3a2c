"""Who may call: API keys, bearer tokens, and one user never reaching another's sessions."""

from pathlib import Path

from orchestrator.accounts import USER_NAME_MAX
from tests.conftest import Daemon, make_settings, start_daemon

SESSIONS = "/v1/browser/sessions/"


async def test_no_or_bad_credentials_are_401_with_www_authenticate(daemon: Daemon) -> None:
    for headers in [{}, {"X-API-Key": "bp_nope_nope"}, {"X-API-Key": "garbage"}, {"Authorization": "Bearer nope"}]:
        for method, path in [
            ("GET", SESSIONS),
            ("POST", SESSIONS),
            ("GET", "/v1/api-keys"),
            ("GET", SESSIONS + "x"),
            ("DELETE", SESSIONS + "x"),
        ]:
            response = await daemon.client.request(method, path, headers=headers, json={})
            assert response.status_code == 401, (headers, path)
            assert response.headers["www-authenticate"] == "Bearer"
            assert "detail" in response.json()


async def test_password_flow_gives_an_expiring_bearer_token(daemon: Daemon) -> None:
    await daemon.user("carol", password="correct horse")
    bad = await daemon.client.post("/v1/auth/token", data={"username": "carol", "password": "wrong"})
    assert bad.status_code == 401
    unknown = await daemon.client.post("/v1/auth/token", data={"username": "nobody", "password": "x"})
    assert unknown.status_code == 401

    response = await daemon.client.post("/v1/auth/token", data={"username": "carol", "password": "correct horse"})
    assert response.status_code == 200
    token = response.json()
    assert token["token_type"] == "bearer"
    assert token["expires_in"] == daemon.runtime.settings.token_ttl
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert (await daemon.client.get(SESSIONS, headers=bearer)).status_code == 200
    ttl = await daemon.runtime.shared.redis.ttl(
        daemon.runtime.keys.token(__import__("hashlib").sha256(token["access_token"].encode()).hexdigest())
    )
    assert 0 < ttl <= daemon.runtime.settings.token_ttl


async def test_api_keys_create_list_and_revoke_at_once(daemon: Daemon) -> None:
    me = await daemon.user()
    created = await daemon.client.post("/v1/api-keys", json={"name": "ci"}, headers=me)
    assert created.status_code == 201
    key = created.json()
    assert set(key) == {"key_id", "api_key", "name", "created_at"}
    assert key["name"] == "ci"
    new = {"X-API-Key": key["api_key"]}
    assert (await daemon.client.get(SESSIONS, headers=new)).status_code == 200

    listed = (await daemon.client.get("/v1/api-keys", headers=me)).json()
    assert {k["key_id"] for k in listed} >= {key["key_id"]}
    assert all("api_key" not in k for k in listed)
    assert key["api_key"] not in str(listed)

    assert (await daemon.client.delete(f"/v1/api-keys/{key['key_id']}", headers=me)).status_code == 204
    assert (await daemon.client.get(SESSIONS, headers=new)).status_code == 401
    assert (await daemon.client.delete(f"/v1/api-keys/{key['key_id']}", headers=me)).status_code == 404


async def test_a_user_cannot_revoke_anothers_key(daemon: Daemon) -> None:
    alice, bob = await daemon.user(), await daemon.user()
    key = (await daemon.client.post("/v1/api-keys", json={"name": "a"}, headers=alice)).json()
    assert (await daemon.client.delete(f"/v1/api-keys/{key['key_id']}", headers=bob)).status_code == 404
    assert (await daemon.client.get(SESSIONS, headers={"X-API-Key": key["api_key"]})).status_code == 200


async def test_another_users_session_is_404_everywhere_and_untouched(daemon: Daemon, site: str) -> None:
    alice, bob = await daemon.user(), await daemon.user()
    sid = (await daemon.create(alice))["session_id"]
    base = SESSIONS + sid
    attempts = [
        ("GET", base, None),
        ("DELETE", base, None),
        ("POST", base + "/keepalive", None),
        ("POST", base + "/navigate", {"url": site + "/"}),
        ("POST", base + "/evaluate", {"expression": "document.cookie"}),
        ("GET", base + "/screenshot", None),
        ("GET", base + "/content", None),
    ]
    unknown = await daemon.client.get(SESSIONS + "0" * 32, headers=bob)
    for method, path, body in attempts:
        response = await daemon.client.request(method, path, json=body, headers=bob)
        assert response.status_code == 404, (method, path)
        assert response.json() == unknown.json()

    assert (await daemon.client.get(SESSIONS, headers=bob)).json() == {"sessions": [], "total_count": 0}
    mine = await daemon.client.get(base, headers=alice)
    assert mine.json()["status"] == "active"
    check = await daemon.client.post(base + "/evaluate", json={"expression": "location.href"}, headers=alice)
    assert check.json() == {"result": "about:blank"}


async def test_api_keys_per_user_are_capped(redis_url: str, prefix: str, tmp_path: Path) -> None:
    async with start_daemon(make_settings(redis_url, prefix, tmp_path, max_api_keys_per_user=3)) as daemon:
        me = await daemon.user()  # holds one key already
        created = [await daemon.client.post("/v1/api-keys", json={"name": f"k{n}"}, headers=me) for n in range(2)]
        assert [c.status_code for c in created] == [201, 201]
        refused = await daemon.client.post("/v1/api-keys", json={"name": "one-too-many"}, headers=me)
        assert refused.status_code == 429 and "revoke one" in refused.json()["detail"]
        assert len((await daemon.client.get("/v1/api-keys", headers=me)).json()) == 3

        key_id = created[0].json()["key_id"]
        assert (await daemon.client.delete(f"/v1/api-keys/{key_id}", headers=me)).status_code == 204
        assert (await daemon.client.post("/v1/api-keys", json={"name": "again"}, headers=me)).status_code == 201


async def test_an_impossible_user_name_is_an_ordinary_failed_login(daemon: Daemon) -> None:
    unknown = await daemon.client.post("/v1/auth/token", data={"username": "nobody", "password": "x"})
    for name in ["n" * (USER_NAME_MAX + 1), "tab\there"]:
        response = await daemon.client.post("/v1/auth/token", data={"username": name, "password": "x"})
        assert response.status_code == 401 and response.json() == unknown.json()
