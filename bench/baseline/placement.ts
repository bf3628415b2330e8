// The seeds' placement, simulated over the same guild ids the ring is measured on: each new
// guild goes to the least loaded pod (getLeastLoadedPod, equal capacity; ties to the lowest
// id), a joining pod is filled by moving guilds off the fullest pods until it holds its even
// share ("Rebalancing process" in the seeds' diagrams), a leaving pod's guilds go one by one
// to the least loaded survivors. A central table balances perfectly; its price is elsewhere
// (a lookup per request, a full read per poll, minutes to notice a dead pod).
export interface PlacementScenario {
  readonly pods: number;
  readonly maxOverMean: number;
  readonly joinMoved: number;
  readonly leaveMoved: number;
}

function leastLoaded(counts: number[]): number {
  let best = 0;
  for (let i = 1; i < counts.length; i++) if ((counts[i] as number) < (counts[best] as number)) best = i;
  return best;
}

export function seedsPlacement(guilds: readonly string[], pods: number): PlacementScenario {
  const counts = new Array<number>(pods).fill(0);
  for (let i = 0; i < guilds.length; i++) {
    const p = leastLoaded(counts);
    counts[p] = (counts[p] as number) + 1;
  }
  const mean = guilds.length / pods;
  const maxOverMean = Math.max(...counts) / mean;

  // Join: the new pod takes guilds from the fullest pods until it has its share.
  const joined = [...counts, 0];
  const share = Math.floor(guilds.length / (pods + 1));
  let joinMoves = 0;
  while ((joined[pods] as number) < share) {
    const fullest = joined.slice(0, pods).reduce((b, c, i) => (c > (joined[b] as number) ? i : b), 0);
    joined[fullest] = (joined[fullest] as number) - 1;
    joined[pods] = (joined[pods] as number) + 1;
    joinMoves++;
  }
  // Leave: the middle pod's guilds go to the least loaded survivors.
  const leaver = Math.floor(pods / 2);
  const leaveMoves = counts[leaver] as number;
  return { pods, maxOverMean, joinMoved: joinMoves / guilds.length, leaveMoved: leaveMoves / guilds.length };
}
