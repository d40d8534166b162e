// Package scoreout owns the output of a bulk-scoring job (docs/architecture.md §6): the
// names in the job's output folder, the commit that publishes it, the
// _manifest.json format and the helpers that read a committed folder. The
// workers that write attempts and the coordinator that commits them both use
// it, so the protocol lives in one place; it imports only storage.
//
// Layout of a job's output folder OUTPUT/job-<id>/:
//
//	_temporary/part-NNNNN.a<attempt>.<ext>    one object per attempt (AttemptKey)
//	_temporary/….quarantine.jsonl              that attempt's quarantined rows
//	part-NNNNN.<ext>                           the committed object of shard NNNNN (FinalKey)
//	part-NNNNN.<ext>.quarantine.jsonl          its quarantined rows, when it has some
//	_manifest.json                             the committed objects (Manifest)
//	_SUCCESS                                   written last: the folder is committed
//
// where <ext> is "parquet" or "arrow" (Ext).
//
// The protocol:
//
//  1. Attempt. Every attempt of every task writes only its own objects,
//     named after the shard and its attempt number, under _temporary/.
//     It reports the object's key, rows, bad rows, size and CRC-32C; the
//     coordinator's FSM accepts exactly one attempt per shard.
//  2. Commit. Once every shard has an accepted attempt, the leader calls
//     Commit with those attempts. Commit copies each accepted object (and
//     its quarantine object) to its final name, writes _manifest.json
//     listing exactly those final objects, then writes _SUCCESS, the commit
//     point. Only then does it Clean: everything under _temporary/ goes,
//     objects, temp files and unfinished multipart uploads alike, and so do
//     unfinished uploads anywhere in the folder older than StaleAge.
//  3. Read. A reader trusts the folder only once _SUCCESS exists
//     (Committed) and reads only the objects _manifest.json lists
//     (ReadManifest).
//
// Why this is exactly once: the manifest lists one object per shard index,
// and each was copied from the one attempt the FSM accepted for that shard.
// A zombie or a losing backup attempt writes under its own attempt name in
// _temporary/, which no final name, manifest or reader ever refers to, so it
// can neither add, duplicate nor corrupt a committed row. Each step is
// idempotent: a copy whose destination already holds an object of the
// reported size is skipped (the source may be gone after a Clean), and the
// manifest and the marker are rewritten with the same bytes. So a leader that
// crashes at any step, and the next one that runs Commit again, leave the
// same folder; nothing is visible as committed before _SUCCESS, and Clean
// refuses to run before it, as the attempts are the only copy of uncommitted
// data until then.
//
// What Commit cannot collect: an attempt that writes after the commit (a
// zombie resuming late) leaves its object or its unfinished upload under
// _temporary/. Such leftovers are never listed; a later Clean of the folder
// (a periodic sweep, or the next Commit) removes them.
//
// Concurrency: the package has no state. Commit may run for the same folder
// in two processes at once (an old and a new leader): both write the same
// bytes, and the later Clean never removes what the manifest lists.
package scoreout
