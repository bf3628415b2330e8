// The worker thread of replica-reader.ts: reads a local-directory replica into a scratch file,
// runs the candidate checks on it and stamps the claim's epoch, off the gateway's event loop. One
// job at a time; every reply carries the job's id. Nothing here outlives a job but lz4's reused
// decode buffer.
import { parentPort, threadId } from 'node:worker_threads';
import { FileReplicaReadError } from './file-replica-restore.js';
import { readAndCheck, type ReadJob, type ReadReply } from './replica-reader.js';

const port = parentPort;
if (!port) throw new Error('replica-read-worker.js runs as a worker thread (replica-reader.ts starts it)');

port.on('message', (job: ReadJob) => {
  let reply: ReadReply;
  try {
    reply = { id: job.id, ok: true, ...readAndCheck(job), thread: threadId };
  } catch (err) {
    reply = { id: job.id, ok: false, readError: err instanceof FileReplicaReadError, message: err instanceof Error ? err.message : String(err) };
  }
  port.postMessage(reply);
});
