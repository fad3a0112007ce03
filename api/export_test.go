package api

import "context"

// RefreshGauges runs one refresh of the gauges read from the database, as RunGauges does on its interval.
func RefreshGauges(ctx context.Context, s *Server) error {
	s.setup()
	return s.refreshGauges(ctx)
}
