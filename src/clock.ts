// Time is injected: a Clock gives monotonic time for deadlines and wall time for records.
// Unit tests use FakeClock and never sleep.

export interface Clock {
  /** Monotonic milliseconds (never jumps with NTP or hand-set clocks). Use for deadlines. */
  now(): number;
  /** Wall-clock milliseconds since the epoch. Use only for records shown to people. */
  wallNow(): number;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
};

export class FakeClock implements Clock {
  constructor(
    private mono = 1_000,
    private wall = Date.UTC(2026, 0, 1),
  ) {}
  now(): number {
    return this.mono;
  }
  wallNow(): number {
    return this.wall;
  }
  advance(ms: number): void {
    this.mono += ms;
    this.wall += ms;
  }
}
