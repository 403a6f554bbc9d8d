package events

// Wrapper is implemented by stores that wrap other stores (a cache of
// views, a reader combining a primary and an analytics store) and so
// implement the optional interfaces (Histogrammer, TagCounter, ...) by
// delegation, whether or not the wrapped stores answer them. Unwrap
// returns the stores a call may be delegated to.
type Wrapper interface {
	Unwrap() []Store
}

// Optional returns s as the optional interface T when s answers it: s
// implements T and, when s is a Wrapper, one of the stores it wraps
// answers T too. Callers that enable features by what the store can do
// probe with Optional rather than a type assertion, which a wrapper
// always passes.
func Optional[T any](s Store) (T, bool) {
	t, ok := s.(T)
	if !ok {
		return t, false
	}
	w, isWrapper := s.(Wrapper)
	if !isWrapper {
		return t, true
	}
	for _, inner := range w.Unwrap() {
		if inner == nil {
			continue
		}
		if _, ok := Optional[T](inner); ok {
			return t, true
		}
	}
	var zero T
	return zero, false
}
