"""How sessions are made: the timeouts a request may ask for, queueing, the per-user limit, proxies."""

from dataclasses import dataclass, field

from .address_policies import page_policy
from .addresses import AddressPolicy
from .config import Settings
from .errors import InvalidInput
from .isolation import DEFAULT_ISOLATION
from .models import DEFAULT_PROXY, ProfileRef, SessionRequest, SessionSpec
from .proxies import UpstreamProxy, always_refused, proxy_from_url


@dataclass(frozen=True)
class CreatePolicy:
    """How sessions are made: timeouts a request may ask for, how long to queue, how many per user."""

    default_timeout: int = 300
    max_timeout: int = 86400
    idle_timeout: int = 300
    queue_timeout: float = 0
    max_sessions_per_user: int = 0  # 0: no limit
    default_proxy: UpstreamProxy | None = None  # for sessions that name none
    allow_direct: bool = True  # whether a session may ask for no proxy where a default is set
    addresses: AddressPolicy = field(default_factory=AddressPolicy)  # what a proxy's spelling alone may not name

    @classmethod
    def of(cls, settings: Settings) -> "CreatePolicy":
        return cls(
            default_timeout=settings.session_timeout,
            max_timeout=settings.max_session_timeout,
            idle_timeout=settings.idle_timeout,
            queue_timeout=settings.queue_timeout,
            max_sessions_per_user=settings.max_sessions_per_user,
            default_proxy=proxy_from_url(settings.default_proxy) if settings.default_proxy else None,
            allow_direct=settings.allow_direct,
            addresses=page_policy(settings),
        )

    def proxy_for(self, request: SessionRequest) -> UpstreamProxy | None:
        """The upstream a request's session uses: its own, the default when it names none, or none when it asks
        for none and that is allowed. InvalidInput for a proxy that can never be reached."""
        if request.proxy == DEFAULT_PROXY:
            return self.default_proxy
        if request.proxy is None:
            if self.default_proxy is not None and not self.allow_direct:
                raise InvalidInput(
                    "sessions here must use a proxy (BROWSERPOOL_ALLOW_DIRECT is false): leave proxy out for the "
                    "default one, or name your own",
                    loc=("body", "proxy"),
                )
            return None
        assert isinstance(request.proxy, UpstreamProxy)
        why = always_refused(request.proxy, self.addresses)
        if why:
            raise InvalidInput(f"proxy {request.proxy.server} is refused: {why}", loc=("body", "proxy", "server"))
        return request.proxy

    def spec_for(self, request: SessionRequest, user_id: str = "") -> SessionSpec:
        """The spec a request stands for, with the default timeout filled in; InvalidInput past the maximum."""
        timeout = self.default_timeout if request.timeout_seconds is None else request.timeout_seconds
        if timeout > self.max_timeout:
            raise InvalidInput(f"timeout_seconds must be at most {self.max_timeout}")
        profile = ProfileRef(user_id, request.profile, request.persist_profile) if request.profile else None
        proxy = self.proxy_for(request)
        return SessionSpec(
            **request.shape_values(),
            timeout_seconds=timeout,
            profile=profile,
            proxy=proxy,
            record=request.record,
            isolation=request.isolation or DEFAULT_ISOLATION,
        )
