// Every setting of the Assistant resource, grouped as the editor shows it, each with a
// label and a one-line explanation. Defaults, choices and limits are not repeated here:
// the editor reads them from the API's own schema (/openapi.json, AssistantIn), and
// tests/api/test_dashboard_fields.py fails when a field of the schema is missing here.
//
// kind: text | textarea | number | bool | select | secret | lines (one item a line)
//       | ids (numbers) | json (free-form objects and lists of objects)

const field = (path, label, kind, help) => ({ path, label, kind, help });

export const GROUPS = [
  {
    id: "general",
    title: "General",
    sections: [
      {
        fields: [
          field("name", "Name", "text", "Shown in lists and call records; need not be unique."),
          field("description", "Description", "textarea", "A note for your team; never sent to the model."),
          field("is_active", "Active", "bool", "Inactive assistants keep their settings but take no calls."),
          field("external_id", "External id", "text", "Your own identifier, unique among your live assistants; usable instead of the id in URLs."),
          field("first_message_mode", "First message", "select", "Who speaks first: the assistant's welcome message, the caller, or a welcome the model writes."),
          field("mode", "Mode", "select", "pipeline: transcriber → model → voice; realtime: one speech-to-speech model."),
          field("realtime_settings.provider", "Realtime provider", "select", "Realtime mode only: the speech-to-speech model's vendor."),
          field("realtime_settings.model", "Realtime model", "text", "Realtime mode only: the vendor's speech-to-speech model."),
          field("realtime_settings.voice", "Realtime voice", "text", "Realtime mode only: the model's own voice (OpenAI: marin, cedar, alloy…)."),
          field("realtime_settings.api_key", "Realtime API key", "secret", "Realtime mode only: else the organization's, then the server's key."),
          field("realtime_settings.base_url", "Realtime base URL", "text", "Realtime mode only: another endpoint; needs its own API key."),
          field("realtime_settings.turn_detection", "Realtime turn detection", "select", "server_vad ends the turn after the endpointing silence; semantic_vad listens to the words."),
          field("realtime_settings.eagerness", "Realtime eagerness", "select", "semantic_vad only: how soon the model takes its turn."),
          field("realtime_settings.transcription_model", "Realtime transcription", "text", "Transcribes the caller's side for the call record; empty for none."),
          field("metadata", "Metadata", "json", "Free-form JSON kept with the assistant and copied into its webhooks."),
        ],
      },
    ],
  },
  {
    id: "model",
    title: "Model",
    sections: [
      {
        fields: [
          field("llm_provider", "Provider", "select", "Which LLM vendor answers; local runs the offline model on this server."),
          field("llm_provider_config.model", "Model", "text", "The vendor's model name."),
          field("llm_provider_config.api_key", "API key", "secret", "This assistant's own key; empty uses the organization's or the server's key."),
          field("llm_provider_config.base_url", "Base URL", "text", "An OpenAI-compatible endpoint to use instead of the vendor's; needs its own key."),
          field("llm_provider_config.custom_config", "Extra request fields", "json", "Vendor-specific parameters added to every request."),
          field("llm_settings.system_prompt", "System prompt", "textarea", "Instructions the model follows in every turn."),
          field("llm_settings.welcome_message", "Welcome message", "textarea", "What the assistant says first when it speaks first."),
          field("dynamic_welcome_message", "Dynamic welcome message", "textarea", "A welcome with {{variables}} filled from the call; wins over the welcome message."),
          field("llm_settings.temperature", "Temperature", "number", "Higher is more varied, lower more predictable (0–2)."),
          field("llm_settings.max_tokens", "Max tokens", "number", "The longest reply the model may write in one turn."),
          field("llm_settings.top_p", "Top p", "number", "Nucleus sampling: only the most likely tokens adding up to this share (0–1)."),
          field("llm_settings.frequency_penalty", "Frequency penalty", "number", "Discourages repeating the same words (−2–2)."),
          field("llm_settings.presence_penalty", "Presence penalty", "number", "Encourages new topics (−2–2)."),
          field("llm_settings.stop_sequences", "Stop sequences", "lines", "The reply ends where the model writes one of these; one a line."),
          field("maintain_context", "Remember the caller", "bool", "Start with the transcript of the same caller's previous call."),
        ],
      },
      {
        title: "Fallback models",
        fields: [
          field("llm_fallback_providers.enabled", "Use fallbacks", "bool", "Another model answers the turn when the first fails or is slow."),
          field("llm_fallback_providers.fallbacks", "Fallbacks", "json", 'In order: [{"provider", "model", "api_key", "base_url"}]; keys are masked.'),
        ],
      },
    ],
  },
  {
    id: "voice",
    title: "Voice",
    sections: [
      {
        fields: [
          field("tts_settings.provider", "Provider", "select", "Which vendor speaks; piper and espeak run offline on this server."),
          field("tts_settings.voice_id", "Voice", "text", "The vendor's voice id or name."),
          field("tts_settings.model_id", "Voice model", "text", "The vendor's synthesis model; empty uses its default."),
          field("tts_settings.latency", "Latency optimisation", "number", "0 is best quality, 4 the fastest first audio."),
          field("tts_settings.stability", "Stability", "number", "Lower is more expressive, higher more even (0–1)."),
          field("tts_settings.similarity_boost", "Similarity boost", "number", "How closely to hold the original voice (0–1)."),
          field("tts_settings.style", "Style", "number", "Exaggerates the voice's style; adds latency (0–1)."),
          field("tts_settings.use_speaker_boost", "Speaker boost", "bool", "Sharpens the likeness to the original speaker."),
          field("tts_settings.provider_config", "Provider settings", "json", "Vendor-specific settings (api_key, base_url, region); secrets are masked."),
        ],
      },
    ],
  },
  {
    id: "transcriber",
    title: "Transcriber",
    sections: [
      {
        fields: [
          field("stt_settings.model", "Model", "text", "nova* → Deepgram, universal* → AssemblyAI, whisper-1 → OpenAI, whisper-local → offline."),
          field("stt_settings.language", "Language", "text", "The caller's language as a BCP 47 tag, such as en-US."),
          field("stt_settings.punctuate", "Punctuate", "bool", "Add punctuation to transcripts."),
          field("stt_settings.interim_results", "Interim results", "bool", "Partial transcripts while the caller speaks (needed for quick barge-in)."),
          field("stt_settings.smart_format", "Smart format", "bool", "Write numbers, dates and amounts as digits."),
          field("stt_settings.keywords", "Keywords", "json", 'Words to boost: [{"keyword", "intensifier"}].'),
          field("stt_settings.keyterms", "Key terms", "lines", "Phrases the transcriber should expect; one a line."),
          field("stt_settings.audio_denoising", "Denoise", "bool", "Suppress steady background noise before transcription."),
        ],
      },
    ],
  },
  {
    id: "conversation",
    title: "Conversation",
    sections: [
      {
        title: "Interruptions",
        fields: [
          field("interruption_settings.interruption_threshold", "Words to interrupt", "number", "The caller's words that stop the assistant mid-reply."),
          field("interruption_settings.min_speaking_time", "Seconds to interrupt", "number", "Seconds of caller speech that stop the assistant mid-reply."),
          field("interruption_settings.interruption_cooldown", "Cooldown", "number", "Seconds after the assistant starts a reply during which it cannot be interrupted."),
          field("interruption_settings.acknowledgement_phrases", "Backchannels", "lines", "Caller phrases that never interrupt (\"mhmm\", \"okay\"); one a line; empty: the list for the transcriber's language."),
          field("interruption_settings.interruption_phrases", "Interrupt words", "lines", "Caller phrases that interrupt at once, below the thresholds (\"stop\", \"wait\"); one a line; empty: the language's list."),
          field("interruption_settings.false_interruption_timeout", "Resume after a false interruption", "number", "Seconds of quiet after a barge-in that gave no words before the assistant goes on where it stopped; empty: it stays silent."),
        ],
      },
      {
        title: "Endpointing",
        fields: [
          field("stt_settings.endpointing.silence_threshold", "End-of-turn silence", "number", "Milliseconds of silence (with a final transcript) that end the caller's turn."),
          field("stt_settings.endpointing.min_silence_duration", "Finalise after", "number", "Milliseconds of silence after which the transcriber is asked to finalise."),
          field("stt_settings.vad_turnoff", "Speech stopped after", "number", "Milliseconds below the speech threshold before speech counts as stopped."),
          field("stt_settings.utterance_end_ms", "Late final", "number", "Milliseconds to wait for a final transcript before using the interim one."),
          field("stt_settings.turn_detection", "Turn detection", "select", "silence: the turn ends after the end-of-turn silence; smart: the caller's words and voice say whether they are done (sooner when done, up to the late-final wait when not)."),
        ],
      },
      {
        title: "Idle caller",
        fields: [
          field("idle_message", "Idle message", "textarea", "Said when the caller stays silent."),
          field("idle_timeout", "Idle timeout", "number", "Seconds of silence before the idle message."),
          field("max_idle_messages", "Idle messages", "number", "Idle messages before the call ends."),
        ],
      },
      {
        title: "Fillers",
        fields: [
          field("filler_words_enabled", "Use fillers", "bool", "Say a short filler while a slow reply is prepared."),
          field("filler_words", "Filler words", "lines", "Chosen from at random; one a line."),
        ],
      },
      {
        title: "Ending and errors",
        fields: [
          field("end_call_phrases", "End-call phrases", "lines", "When the assistant says one of these, the call ends; one a line."),
          field("end_call_trigger_phrase", "Caller's end phrase", "text", "When the caller says this, the call ends."),
          field("end_call_message", "End-call message", "textarea", "Said before the assistant hangs up."),
          field("transfer_call_message", "Transfer message", "textarea", "Said before the call is transferred."),
          field("voicemail_message", "Voicemail message", "textarea", "Left when an answering machine picks up an outbound call."),
          field("error_message", "Error message", "textarea", "Said when no model could answer a turn."),
          field("max_error_messages", "Errors in a row", "number", "Failed replies in a row after which the call ends."),
          field("max_duration_seconds", "Maximum duration", "number", "Seconds after which the call ends."),
        ],
      },
    ],
  },
  {
    id: "tools",
    title: "Tools",
    sections: [
      {
        fields: [
          field("tools_settings.enabled_tools", "Enabled tools", "lines", "Names of the tools the model may call; one a line."),
          field("tool_ids", "Stored tools", "ids", "Ids of your stored tools this assistant may call, separated by commas."),
          field("tools_settings.custom_tools", "Custom tools", "json", "Function tools defined inline, in the Vapi shape."),
        ],
      },
      {
        title: "End call",
        fields: [
          field("tools_settings.end_call.enabled", "Enabled", "bool", "Let the model end the call."),
          field("tools_settings.end_call.scenarios", "When", "lines", "Situations in which to end the call; one a line."),
          field("tools_settings.end_call.custom_message", "Message", "textarea", "Said before hanging up."),
        ],
      },
      {
        title: "Transfer call",
        fields: [
          field("tools_settings.transfer_call.enabled", "Enabled", "bool", "Let the model transfer the call."),
          field("tools_settings.transfer_call.scenarios", "When", "lines", "Situations in which to transfer; one a line."),
          field("tools_settings.transfer_call.transfer_numbers", "Numbers", "lines", "E.164 numbers the call may go to; one a line."),
          field("tools_settings.transfer_call.custom_message", "Message", "textarea", "Said before transferring."),
        ],
      },
    ],
  },
  {
    id: "knowledge",
    title: "Knowledge",
    sections: [
      {
        fields: [
          field("rag_settings.enabled", "Use knowledge", "bool", "Look up the assistant's documents on every turn."),
          field("rag_settings.search_limit", "Passages", "number", "At most this many passages are given to the model."),
          field("rag_settings.similarity_threshold", "Similarity threshold", "number", "Passages less similar than this are left out (0–1)."),
          field("rag_settings.context_window_tokens", "Token budget", "number", "The passages given to the model fit in this many tokens."),
          field("rag_settings.embedding_model", "Embedding model", "select", "all-MiniLM-L6-v2 runs offline; the others need an OpenAI key."),
          field("rag_settings.chunking_strategy", "Chunking", "select", "How documents are cut into passages."),
          field("rag_settings.chunk_size", "Chunk size", "number", "Characters per passage."),
          field("rag_settings.chunk_overlap", "Chunk overlap", "number", "Characters shared by neighbouring passages; less than the chunk size."),
          field("rag_settings.auto_process", "Process on upload", "bool", "Cut and embed documents as soon as they are uploaded."),
          field("rag_settings.include_metadata", "Include metadata", "bool", "Give the model each passage's document name and position."),
        ],
      },
    ],
  },
  {
    id: "webhook",
    title: "Webhook",
    sections: [
      {
        fields: [
          field("webhook_url", "Webhook URL", "text", "Receives status updates, transcripts and the end-of-call report, signed."),
          field("end_call_url", "End-call URL", "text", "Receives one signed POST when a call ends."),
        ],
      },
      {
        title: "Post-call analysis",
        fields: [
          field("analysis_plan", "Analysis plan", "json", 'Empty: calls are not analysed. {"summary_plan", "structured_data_plan": {"json_schema"}, "success_evaluation_plan": {"rubric"}, "model"}; the result is on the call and in the end-of-call report.'),
        ],
      },
    ],
  },
  {
    id: "advanced",
    title: "Advanced",
    sections: [
      {
        title: "Twilio account",
        fields: [
          field("twilio_config.account_sid", "Account SID", "text", "This assistant's own Twilio account (AC…); empty uses the organization's."),
          field("twilio_config.auth_token", "Auth token", "secret", "The account's auth token; stored encrypted and shown masked."),
        ],
      },
      {
        fields: [
          field("custom_settings", "Custom settings", "json", "Free-form JSON for your own integrations."),
        ],
      },
    ],
  },
];

export const FIELDS = GROUPS.flatMap((group) =>
  group.sections.flatMap((section) => section.fields.map((entry) => ({ ...entry, group: group.id }))),
);
