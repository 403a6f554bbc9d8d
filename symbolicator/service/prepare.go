package service

import (
	"context"

	"github.com/cairn-dev/cairn/symbolicator/sources"
)

// Prepare finds and converts a module's debug and unwind information
// ahead of the first crash that needs it, so that crash is symbolicated
// from warm caches; an upload server calls it when a debug file arrives.
// It returns the module as a response would report it.
func (s *Service) Prepare(ctx context.Context, info ModuleInfo, srcs []sources.Source) Module {
	r := s.newSession(srcs)
	defer r.close()
	l := newLookup(info)
	r.resolve(ctx, l, true)
	return l.module()
}
