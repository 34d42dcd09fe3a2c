"""One shape per boundary: every context-shape field crosses from the public body to the context's options and
the stored record without a hand-written copy anywhere in between."""

from dataclasses import fields

from api.schemas import SessionCreate, SessionDetail
from orchestrator.lifecycle import SessionStatus
from orchestrator.models import DEFAULT_SHAPE, ContextShape, ProfileRef, SessionRecord, SessionSpec
from orchestrator.proxies import UpstreamProxy, make_proxy
from workers.remote.wire import SPEC, spec_body

SHAPE_FIELDS = [f.name for f in fields(ContextShape)]


def _every_option(proxy: UpstreamProxy) -> SessionSpec:
    """A spec with every option away from its default."""
    return SessionSpec(
        viewport_width=800,
        viewport_height=600,
        user_agent="UA/1",
        timeout_seconds=60,
        profile=ProfileRef("u1", "shop", persist=True),
        proxy=proxy,
        record=True,
        isolation="browser",
    )


def test_every_shape_field_is_in_the_public_body_and_the_detail() -> None:
    assert set(SHAPE_FIELDS) <= set(SessionCreate.model_fields)
    assert set(SHAPE_FIELDS) <= set(SessionDetail.model_fields)


def test_the_api_default_is_the_default_shape() -> None:
    body = SessionCreate()
    assert ContextShape(**{name: getattr(body, name) for name in SHAPE_FIELDS}) == DEFAULT_SHAPE


def test_a_context_gets_every_shape_field() -> None:
    shape = ContextShape(viewport_width=390, viewport_height=844, user_agent="Phone/1")
    assert shape.context_options() == {"viewport": {"width": 390, "height": 844}, "user_agent": "Phone/1"}


def test_a_spec_crosses_the_internal_api_whole_with_its_proxy_password() -> None:
    spec = _every_option(make_proxy("socks5://upstream.example:1080", "me", "s3cret", ".example.com"))
    body = spec_body(spec)
    assert body["proxy"]["password"] == "s3cret"  # the worker needs it; it is in no record
    assert SPEC.validate_python(body) == spec
    assert "s3cret" not in repr(spec)


def test_a_record_keeps_its_spec_and_reads_back_as_written() -> None:
    spec = _every_option(make_proxy("http://upstream.example:3128", "me", "s3cret"))
    record = SessionRecord.opened(
        spec,
        session_id="s1",
        user_id="u1",
        worker_id="w1",
        status=SessionStatus.STARTING,
        idle_timeout=300,
        created_at_ms=1_800_000_000_000,
        last_activity_ms=1_800_000_000_000,
        expires_at_ms=1_800_000_060_000,
    )
    assert record.shape() == spec.shape()
    assert (record.profile, record.profile_persist, record.profile_save) == ("shop", True, "pending")
    assert (record.proxy_server, record.proxy_username, record.record, record.isolation) == (
        "http://upstream.example:3128",
        "me",
        True,
        "browser",
    )
    stored = record.to_hash()
    assert "s3cret" not in str(stored)
    assert all(isinstance(value, str) for value in stored.values())
    assert SessionRecord.from_hash({**stored, "written_by_a_newer_version": "x"}) == record
