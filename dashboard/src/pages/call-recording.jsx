import { useEffect, useRef, useState } from "preact/hooks";

import { unheardPart } from "../latency.js";
import { peaks, playingLine, wavePath } from "../waveform.js";

const WIDTH = 1000;
const HEIGHT = 64;
const COLUMNS = 500;
// Decoding resamples to the context's rate; 8 kHz keeps every line's detail for a
// picture 500 columns wide and costs the least.
const DECODE_RATE = 8000;

/** An assistant line: what the caller heard, and (struck through) what was cut off. */
function Said({ line }) {
  const unheard = unheardPart(line);
  return (
    <>
      <span class="text">{line.text}</span>
      {unheard && <del title="Not heard: the caller interrupted">{unheard}</del>}
      {line.interrupted && <span class="badge off">interrupted</span>}
    </>
  );
}

/** The transcript; with a recording, each line's time seeks there and the line being
 * played is highlighted. */
function Transcript({ messages, playing, onSeek }) {
  if (!messages.length) return <p class="empty">No transcript yet.</p>;
  return (
    <ol class="transcript" id="transcript">
      {messages.map((line, index) => {
        const at = Number(line.seconds_from_start ?? 0);
        return (
          <li
            data-role={line.role}
            data-interrupted={line.interrupted ? "true" : undefined}
            data-playing={index === playing ? "true" : undefined}
            aria-current={index === playing ? "true" : undefined}
          >
            <span class="who">{line.role === "user" ? "Caller" : "Assistant"}</span>
            {onSeek ? (
              <button type="button" class="at link" onClick={() => onSeek(at)} aria-label={`Play from ${at.toFixed(1)} s`}>
                {at.toFixed(1)} s
              </button>
            ) : (
              <span class="at">{at.toFixed(1)} s</span>
            )}
            <p>{line.role === "assistant" ? <Said line={line} /> : line.text}</p>
          </li>
        );
      })}
    </ol>
  );
}

/** Both channels of the stereo recording, a playhead, and a click to seek. */
function Waveforms({ channels, time, duration, onSeek }) {
  const seekAt = (event) => {
    const box = event.currentTarget.getBoundingClientRect();
    if (duration > 0 && box.width > 0) onSeek(((event.clientX - box.left) / box.width) * duration);
  };
  const x = duration > 0 ? Math.min(WIDTH, (time / duration) * WIDTH) : 0;
  return (
    <div class="waveforms" id="waveforms">
      {channels.map((channel) => (
        <figure class={`waveform ${channel.id}`}>
          <figcaption>{channel.label}</figcaption>
          <svg
            viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
            preserveAspectRatio="none"
            role="img"
            aria-label={`${channel.label}'s waveform`}
            data-channel={channel.id}
            onClick={seekAt}
          >
            <line x1="0" x2={WIDTH} y1={HEIGHT / 2} y2={HEIGHT / 2} class="baseline" />
            <path d={wavePath(channel.peaks, WIDTH, HEIGHT)} class="wave" />
            <line x1={x} x2={x} y1="0" y2={HEIGHT} class="playhead" data-seconds={time.toFixed(2)} />
          </svg>
        </figure>
      ))}
    </div>
  );
}

async function decodeChannels(bytes) {
  const context = new OfflineAudioContext(1, 1, DECODE_RATE);
  const audio = await context.decodeAudioData(bytes);
  const left = audio.getChannelData(0);
  const right = audio.numberOfChannels > 1 ? audio.getChannelData(1) : left;
  return [
    { id: "caller", label: "Caller", peaks: peaks(left, COLUMNS) },
    { id: "assistant", label: "Assistant", peaks: peaks(right, COLUMNS) },
  ];
}

/** The recording (fetched once: it plays from memory and is drawn from the same
 * bytes) with the transcript following it; without one, the transcript alone. */
export function RecordingAndTranscript({ call }) {
  const player = useRef(null);
  const [source, setSource] = useState(null);
  const [channels, setChannels] = useState(null);
  const [problem, setProblem] = useState(null);
  const [time, setTime] = useState(0);
  const [length, setLength] = useState(call.duration_seconds || 0);
  const recorded = Boolean(call.recording_url);
  const path = `/api/v1/calls/${call.id}/recording`;

  useEffect(() => {
    if (!recorded) return undefined;
    let url = null;
    let gone = false;
    (async () => {
      const response = await fetch(path, { credentials: "same-origin" });
      if (!response.ok) throw new Error(`the recording could not be fetched (${response.status})`);
      const bytes = await response.arrayBuffer();
      if (gone) return;
      url = URL.createObjectURL(new Blob([bytes], { type: "audio/wav" }));
      setSource(url);
      // decodeAudioData takes the buffer over: give it its own copy.
      const drawn = await decodeChannels(bytes.slice(0));
      if (!gone) setChannels(drawn);
    })().catch((caught) => !gone && setProblem(caught.message));
    return () => {
      gone = true;
      if (url) URL.revokeObjectURL(url);
    };
  }, [path, recorded]);

  const seek = (seconds) => {
    const element = player.current;
    if (!element) return;
    element.currentTime = Math.max(0, seconds);
    setTime(element.currentTime);
    element.play().catch(() => {}); // a browser may refuse to start without a gesture
  };
  const playing = recorded ? playingLine(call.messages, time) : -1;

  return (
    <>
      {recorded && (
        <section class="panel">
          <h2>Recording</h2>
          {source ? (
            <audio
              controls
              preload="metadata"
              src={source}
              id="recording"
              ref={player}
              onTimeUpdate={(event) => setTime(event.currentTarget.currentTime)}
              onSeeked={(event) => setTime(event.currentTarget.currentTime)}
              onLoadedMetadata={(event) => setLength(event.currentTarget.duration)}
            />
          ) : (
            !problem && <p class="loading">Loading the recording…</p>
          )}
          {channels && <Waveforms channels={channels} time={time} duration={length} onSeek={seek} />}
          {problem && (
            <p class="alert" role="alert">
              {problem} <a href={path}>Download it</a>
            </p>
          )}
          <p class="hint">
            Left channel: the caller; right: the assistant. <a href={path} download={`call-${call.id}.wav`}>Download (WAV)</a>
          </p>
        </section>
      )}
      <section class="panel">
        <h2>Transcript</h2>
        <Transcript messages={call.messages} playing={playing} onSeek={source ? seek : null} />
      </section>
    </>
  );
}
