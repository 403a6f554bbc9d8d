// Package issues is the worker pipeline: it normalizes events, symbolicates
// them, groups them into issues and fires notifications.
package issues
