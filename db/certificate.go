package db

import (
	"context"

	"github.com/aiccfb/aicc"
)

// AddCertificate stores a system certificate; the same certificate twice is ECONFLICT. An empty ID and a zero
// CreatedAt are filled in, and c is updated to what a read returns.
func (s *Store) AddCertificate(ctx context.Context, c *aicc.Certificate) error {
	stamp(&c.ID, aicc.PrefixCert, &c.CreatedAt)
	r := newCertificateRow(c)
	if _, err := s.conn(ctx).NewInsert().Model(r).Exec(ctx); err != nil {
		return wrap(err, "add certificate")
	}
	*c = *r.domain()
	return nil
}

// ListCertificates returns every system certificate, the one expiring last first.
func (s *Store) ListCertificates(ctx context.Context) ([]*aicc.Certificate, error) {
	var rows []*certificateRow
	if err := s.db.NewSelect().Model(&rows).OrderExpr("not_after DESC, id ASC").Scan(ctx); err != nil {
		return nil, wrap(err, "list certificates")
	}
	return mapRows(rows, (*certificateRow).domain), nil
}
