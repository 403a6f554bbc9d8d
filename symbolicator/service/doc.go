// Package service orchestrates symbolication jobs and enforces their limits.
package service
