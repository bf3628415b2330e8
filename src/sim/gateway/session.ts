// One gateway session (what IDENTIFY starts and RESUME continues): its shard, intents, sequence
// and a bounded ring of the frames it was sent, so a resume replays exactly what was missed.
import type { WebSocket } from 'ws';

export type SessionStatus = 'connected' | 'disconnected' | 'invalidated' | 'expired' | 'closed';

/** One WebSocket connection; it may carry a session or not (before IDENTIFY, after op 9). */
export interface Connection {
  readonly id: number;
  readonly socket: WebSocket;
  readonly userAgent: string;
  readonly path: string;
  session: GatewaySession | undefined;
  /** Monotonic ms of the last heartbeat (or of HELLO). */
  lastHeartbeatAt: number;
  commandsInWindow: number;
  windowStartedAt: number;
  open: boolean;
  /** Its TCP socket is corked until the current turn of the event loop ends. */
  corked: boolean;
}

export interface SessionInfo {
  readonly id: string;
  readonly shard: [number, number];
  readonly status: SessionStatus;
  readonly intents: number;
  readonly seq: number;
  readonly identifiedAt: number;
  readonly resumes: number;
  /** The WebSocket upgrade's User-Agent (discord.js sends none). */
  readonly userAgent: string;
  /** IDENTIFY's properties.browser (discord.js: "discord.js"). */
  readonly library: string;
  /** IDENTIFY's properties (os, browser, device): how a pod can name its sessions. */
  readonly properties: Readonly<Record<string, string>>;
  readonly connected: boolean;
}

export class GatewaySession {
  status: SessionStatus = 'connected';
  seq = 0;
  resumes = 0;
  connection: Connection | undefined;
  disconnectedAt: number | undefined;
  private frames: (string | undefined)[];

  constructor(
    readonly id: string,
    readonly token: string,
    readonly shardId: number,
    readonly shardCount: number,
    readonly intents: number,
    /** Wall-clock ms. */
    readonly identifiedAt: number,
    readonly userAgent: string,
    readonly library: string,
    readonly properties: Readonly<Record<string, string>>,
    private readonly capacity: number,
  ) {
    this.frames = new Array<string | undefined>(capacity);
  }

  get live(): boolean {
    return this.status === 'connected' || this.status === 'disconnected';
  }

  /** Lowest sequence still in the ring. */
  get oldestSeq(): number {
    return Math.max(1, this.seq - this.capacity + 1);
  }

  /**
   * The next dispatch frame. `dataJson` is serialised once per dispatch and shared by every
   * session; only the sequence number is spliced in per session.
   */
  nextFrame(t: string, dataJson: string): string {
    this.seq += 1;
    const frame = `{"t":"${t}","s":${this.seq},"op":0,"d":${dataJson}}`;
    this.frames[this.seq % this.capacity] = frame;
    return frame;
  }

  /** Frames after `seq` (what a RESUME at `seq` replays), or undefined when some fell out of the ring. */
  framesAfter(seq: number): string[] | undefined {
    if (seq + 1 < this.oldestSeq) return undefined;
    const out: string[] = [];
    for (let s = seq + 1; s <= this.seq; s++) out.push(this.frames[s % this.capacity] as string);
    return out;
  }

  end(status: Exclude<SessionStatus, 'connected' | 'disconnected'>): void {
    this.status = status;
    this.connection = undefined;
    this.frames = [];
  }

  info(): SessionInfo {
    return {
      id: this.id,
      shard: [this.shardId, this.shardCount],
      status: this.status,
      intents: this.intents,
      seq: this.seq,
      identifiedAt: this.identifiedAt,
      resumes: this.resumes,
      userAgent: this.userAgent,
      library: this.library,
      properties: this.properties,
      connected: this.connection !== undefined,
    };
  }
}
