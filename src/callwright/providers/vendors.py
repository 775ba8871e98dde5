"""Every vendor callwright can call, one entry each (``providers.catalog`` says what an
entry holds). A new vendor is its adapter file and one line here.

Accounts shared by several entries (OpenAI's key serves its chat models, transcription,
speech and embeddings) are named once above the list.
"""

from __future__ import annotations

from callwright.providers.catalog import Account, Catalog, Vendor, setting

__all__ = ["CATALOG", "stt_cloud_vendor", "stt_vendor"]

_OPENAI = Account(
    "openai",
    "OpenAI",
    setting(lambda s: s.openai_api_key, "CALLWRIGHT_OPENAI_API_KEY", "OPENAI_API_KEY"),
    setting(lambda s: s.openai_base_url, "CALLWRIGHT_OPENAI_BASE_URL", "OPENAI_BASE_URL"),
)
_ANTHROPIC = Account(
    "anthropic",
    "Anthropic",
    setting(lambda s: s.anthropic_api_key, "CALLWRIGHT_ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY"),
    setting(lambda s: s.anthropic_base_url, "CALLWRIGHT_ANTHROPIC_BASE_URL", "ANTHROPIC_BASE_URL"),
)
_GEMINI = Account(
    "gemini",
    "Gemini",
    setting(
        lambda s: s.gemini_api_key,
        "CALLWRIGHT_GEMINI_API_KEY",
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
    ),
    setting(lambda s: s.gemini_base_url, "CALLWRIGHT_GEMINI_BASE_URL"),
)
_GROQ = Account(
    "groq",
    "Groq",
    setting(lambda s: s.groq_api_key, "CALLWRIGHT_GROQ_API_KEY", "GROQ_API_KEY"),
    setting(lambda s: s.groq_base_url, "CALLWRIGHT_GROQ_BASE_URL"),
    default_base_url="https://api.groq.com/openai/v1",
)
_XAI = Account(
    "xai",
    "xAI",
    setting(lambda s: s.xai_api_key, "CALLWRIGHT_XAI_API_KEY", "XAI_API_KEY"),
    setting(lambda s: s.xai_base_url, "CALLWRIGHT_XAI_BASE_URL"),
    default_base_url="https://api.x.ai/v1",
)
_CUSTOM = Account(
    "custom",
    "custom OpenAI-compatible",
    setting(lambda s: s.custom_llm_api_key, "CALLWRIGHT_CUSTOM_LLM_API_KEY"),
    setting(lambda s: s.custom_llm_base_url, "CALLWRIGHT_CUSTOM_LLM_BASE_URL"),
    stored=False,
    needs_key=False,
    needs_base_url=True,
)
_DEEPGRAM = Account(
    "deepgram",
    "Deepgram",
    setting(lambda s: s.deepgram_api_key, "CALLWRIGHT_DEEPGRAM_API_KEY", "DEEPGRAM_API_KEY"),
    setting(lambda s: s.deepgram_base_url, "CALLWRIGHT_DEEPGRAM_BASE_URL"),
)
_ASSEMBLYAI = Account(
    "assemblyai",
    "AssemblyAI",
    setting(lambda s: s.assemblyai_api_key, "CALLWRIGHT_ASSEMBLYAI_API_KEY", "ASSEMBLYAI_API_KEY"),
    setting(lambda s: s.assemblyai_base_url, "CALLWRIGHT_ASSEMBLYAI_BASE_URL"),
)
_ELEVENLABS = Account(
    "elevenlabs",
    "ElevenLabs",
    setting(lambda s: s.elevenlabs_api_key, "CALLWRIGHT_ELEVENLABS_API_KEY", "ELEVENLABS_API_KEY"),
    setting(lambda s: s.elevenlabs_base_url, "CALLWRIGHT_ELEVENLABS_BASE_URL"),
)
_CARTESIA = Account(
    "cartesia",
    "Cartesia",
    setting(lambda s: s.cartesia_api_key, "CALLWRIGHT_CARTESIA_API_KEY", "CARTESIA_API_KEY"),
    setting(lambda s: s.cartesia_base_url, "CALLWRIGHT_CARTESIA_BASE_URL"),
)
_AZURE = Account(
    "azure",
    "Azure Speech",
    setting(lambda s: s.azure_speech_key, "CALLWRIGHT_AZURE_SPEECH_KEY", "AZURE_SPEECH_KEY"),
    setting(lambda s: s.azure_tts_base_url, "CALLWRIGHT_AZURE_TTS_BASE_URL"),
    region=setting(
        lambda s: s.azure_speech_region, "CALLWRIGHT_AZURE_SPEECH_REGION", "AZURE_SPEECH_REGION"
    ),
    needs_region=True,
)

_LOCAL_LLM = "the local-llm extra (pip install 'callwright[local-llm]')"
_OFFLINE = "the offline extra (pip install 'callwright[offline]')"
_SPEECH = "callwright.providers.tts.openai_speech"
_LINE_RATES = (8_000, 16_000)

CATALOG = Catalog(
    [
        # LLMs (groq, xai and custom speak OpenAI's protocol at their own endpoints).
        Vendor("llm", "openai", _OPENAI),
        Vendor("llm", "anthropic", _ANTHROPIC),
        Vendor("llm", "gemini", _GEMINI),
        Vendor("llm", "xai", _XAI, "callwright.providers.llm.openai"),
        Vendor("llm", "groq", _GROQ, "callwright.providers.llm.openai"),
        Vendor("llm", "custom", _CUSTOM, "callwright.providers.llm.openai"),
        Vendor("llm", "local", extra=("llama_cpp", _LOCAL_LLM)),
        # Transcribers (an assistant names a model; the vendor is derived from it).
        # Deepgram's and AssemblyAI's streaming APIs take raw PCM16 at the sample_rate
        # the handshake names: a phone line's 8 kHz as it is (decision 028).
        Vendor("stt", "deepgram", _DEEPGRAM, options=True, input_rates=_LINE_RATES),
        Vendor("stt", "assemblyai", _ASSEMBLYAI, options=True, input_rates=_LINE_RATES),
        # Whisper models hear 16 kHz: OpenAI's upload and the offline model take that.
        Vendor("stt", "whisper", _OPENAI, "callwright.providers.stt.openai_transcribe"),
        Vendor("stt", "whisper-local", extra=("faster_whisper", _OFFLINE)),
        # Voices.
        Vendor("tts", "elevenlabs", _ELEVENLABS, options=True),
        Vendor("tts", "cartesia", _CARTESIA),
        Vendor("tts", "deepgram", _DEEPGRAM, "callwright.providers.tts.deepgram_aura"),
        Vendor("tts", "openai", _OPENAI, _SPEECH, output_rate=24_000),
        Vendor("tts", "azure", _AZURE, options=True),
        Vendor(
            "tts",
            "playht",
            Account.conventional("playht", "PlayHT", ("user_id",)),
            options=True,
        ),
        Vendor("tts", "piper"),
        Vendor("tts", "espeak"),
        # Speech-to-speech models for realtime mode (decision 018): no offline one.
        Vendor("realtime", "openai", _OPENAI),
        Vendor("realtime", "gemini", _GEMINI),
        # Embeddings for retrieval (served by domain.knowledge.embedders).
        Vendor("embeddings", "openai", _OPENAI),
        Vendor("embeddings", "all-MiniLM-L6-v2"),
    ]
)


def stt_cloud_vendor(model: str | None) -> str:
    """The cloud transcriber an STT model implies (the canonical resource stores only
    the model): nova* Deepgram, whisper* and gpt-4o-*transcribe OpenAI ("whisper"),
    universal*, assemblyai*, best and nano AssemblyAI; anything else Deepgram."""
    name = (model or "").lower()
    if name.startswith("nova"):
        return "deepgram"
    if name.startswith("whisper") or (name.startswith("gpt-4o") and "transcribe" in name):
        return "whisper"
    if name.startswith(("universal", "assemblyai")) or name in {"best", "nano"}:
        return "assemblyai"
    return "deepgram"


def stt_vendor(model: str | None) -> str:
    """The transcriber an STT model names: the offline one by its own name, else the
    cloud vendor it implies."""
    offline = CATALOG.offline_name("stt")
    return offline if (model or "").lower() == offline else stt_cloud_vendor(model)
