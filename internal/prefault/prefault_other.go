//go:build !linux

package prefault

import "errors"

func populate(b []byte) error { return errors.ErrUnsupported }
