// Package pdb reads Microsoft PDB files (MSF 7.0): DBI, module line tables,
// inlinee lines, publics and the IPI stream.
package pdb
