// Package alert delivers the coordinator's replicated alerts (pb.Alert: a
// pipeline run failed, a schedule slot was skipped or missed, a schedule
// was paused automatically, a model was not promoted) to the webhooks named
// in the coordinator config under `alerts: webhooks: [...]`.
//
// The Raft leader reads undelivered alerts from the state store, hands each
// to Sender.Deliver and, when Deliver returns nil, commits an AckAlerts
// command. Deliver POSTs the alert to every webhook whose event filter
// wants it, retrying network errors, 5xx and 429 answers with doubling
// backoff (or the server's Retry-After); any other non-2xx answer is a
// permanent failure for that webhook, logged and not retried, since
// sending the same request again would fail the same way. Deliver returns
// an error only while some webhook may still accept the alert later (its
// attempts ran out, or ctx ended), so the caller leaves it unacknowledged
// and tries again.
//
// Delivery is at least once per webhook. A Sender remembers, in a bounded
// in-memory record, which (alert, webhook) pairs are finished, so a retried
// Deliver does not resend to webhooks that already accepted; that only
// trims duplicates. Correctness comes from the Raft acknowledgement: a
// leader that dies after a POST and before its AckAlerts commits leaves the
// alert undelivered, and the next leader sends it again. Every request
// therefore carries the header `Idempotency-Key: <alert id>` (the id is
// stable across leaders) so a receiver can drop the rare duplicate.
//
// Wire formats: "json" (the default) posts a Payload object; "slack" posts
// a Slack incoming-webhook body, {"text": "..."}, with one readable line.
//
// Webhook URLs (Slack's in particular) are secrets: logs and errors name a
// webhook by its index and host only, and header values are never logged.
package alert
