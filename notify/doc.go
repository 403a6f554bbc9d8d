// Package notify fires a project's alert rules on what the worker reports
// about issues (new, regressed, frequent) and delivers the notifications:
// email through an SMTP relay (RFC 5321, STARTTLS when offered, AUTH
// PLAIN), Slack incoming webhooks (Block Kit) and GitHub issues (REST API
// 2022-11-28).
//
// Delivery is an outbox: a fired rule writes one row per action to the
// metadata store under an idempotency key (rule, issue, trigger
// occurrence, action), and a background sender works through the rows
// with bounded, exponentially spaced retries. A retried worker finds its
// rows already written, so nothing is sent twice for one occurrence.
//
// The "more than N events in M minutes" trigger counts events per issue
// and minute in the metadata store rather than in memory: counts survive
// restarts and are shared by every worker process, and a rule fires at
// most once per M-minute slot (the slot is part of the idempotency key).
package notify
