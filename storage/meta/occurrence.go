package meta

import "slices"

// Apply folds one occurrence into the issue, as every backend's
// RecordOccurrences does, and reports whether it reopened a resolved
// issue. The newest occurrence (by event time) sets the title, level,
// metadata and last release; occurrences may arrive out of order.
func (is *Issue) Apply(o Occurrence) (regressed bool) {
	first := is.TimesSeen == 0
	is.TimesSeen++
	if o.NewUser {
		is.UserCount++
	}
	if first || o.Time.Before(is.FirstSeen) {
		is.FirstSeen = o.Time
	}
	if first || !o.Time.Before(is.LastSeen) {
		is.LastSeen = o.Time
		is.LastEventID = o.EventID
		if o.Level != "" {
			is.Level = o.Level
		}
		if o.Title != "" {
			is.Title, is.Culprit = o.Title, o.Culprit
		}
		if o.Metadata != nil {
			is.Metadata = o.Metadata
		}
		if o.Release != "" {
			is.LastRelease = o.Release
		}
	}
	if is.FirstRelease == "" && o.Release != "" {
		is.FirstRelease = o.Release
	}
	if o.Environment != "" && !slices.Contains(is.Environments, o.Environment) {
		is.Environments = append(is.Environments, o.Environment)
	}
	if is.Status == StatusResolved {
		is.Status, is.Substatus = StatusUnresolved, SubstatusRegressed
		return true
	}
	return false
}
