// Package config loads Cairn's configuration into explicit structs handed to
// each component by cmd/cairn.
package config
