// Package symbolicator finds debug files for the modules of a crash, derives
// symcaches and cficaches from them, walks stacks and symbolicates frames.
package symbolicator
