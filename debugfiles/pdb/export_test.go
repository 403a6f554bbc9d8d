package pdb

import "testing"

// Hooks for the external tests.

// WriteMSF lays out streams as an MSF 7.0 file (see writeMSF).
func WriteMSF(streams [][]byte, blockSize int) []byte { return writeMSF(streams, blockSize, false) }

// StreamCount is the number of streams the MSF directory lists.
func (o *Object) StreamCount() int { return len(o.m.streams) }

// RawStream returns the contents of stream i.
func (o *Object) RawStream(i int) ([]byte, error) {
	s, err := o.m.stream(i)
	if err != nil {
		return nil, err
	}
	return s.all()
}

// SynthPDB is the synthetic PDB of synth_test.go.
func SynthPDB(t testing.TB) []byte { return synthPDB(t) }
