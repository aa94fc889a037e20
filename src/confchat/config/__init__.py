"""Configuration: an attrs tree of frozen sections (``sections.py``), loaded
from TOML and checked (``loading.py``).

Every field has an embedded default, so ``Config()`` is a complete, working
configuration (``confchat serve`` with no file at all). TOML tables and keys
match the section and field names one to one.
"""

from .loading import (
    LOG_FORMATS,
    LOG_LEVELS,
    ConfigError,
    from_dict,
    load,
    parse_hostport,
    parse_time,
    time_zone,
    to_dict,
    with_overrides,
)
from .sections import (
    CONFERENCE_STATES,
    ROOM_MODES,
    SYNCHRONOUS,
    TRANSCRIPT_FORMATS,
    Account,
    BrandingSection,
    ChannelsSection,
    ClusterSection,
    Config,
    ConferenceConfig,
    HistorySection,
    LimitsSection,
    ListenSection,
    LoggingSection,
    ModerationSection,
    Oper,
    ServerSection,
    StorageSection,
    TlsSection,
)

__all__ = [
    "CONFERENCE_STATES", "LOG_FORMATS", "LOG_LEVELS", "ROOM_MODES", "SYNCHRONOUS", "TRANSCRIPT_FORMATS",
    "Account", "BrandingSection", "ChannelsSection", "ClusterSection", "Config", "ConferenceConfig", "ConfigError",
    "HistorySection", "LimitsSection", "ListenSection", "LoggingSection", "ModerationSection", "Oper",
    "ServerSection", "StorageSection", "TlsSection",
    "from_dict", "load", "parse_hostport", "parse_time", "time_zone", "to_dict", "with_overrides",
]
