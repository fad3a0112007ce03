package db

import (
	"context"

	"github.com/aiccfb/aicc"
)

// CreateTenant stores a new tenant. An empty ID and a zero CreatedAt are filled in.
func (s *Store) CreateTenant(ctx context.Context, t *aicc.Tenant) error {
	stamp(&t.ID, aicc.PrefixTenant, &t.CreatedAt)
	_, err := s.conn(ctx).NewInsert().Model(newTenantRow(t)).Exec(ctx)
	return wrap(err, "create tenant")
}

// GetTenant returns the tenant with the given ID.
func (s *Store) GetTenant(ctx context.Context, id string) (*aicc.Tenant, error) {
	var r tenantRow
	if err := s.db.NewSelect().Model(&r).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, wrap(found(err, "tenant"), "get tenant")
	}
	return r.domain(), nil
}

// ListTenants lists tenants in creation order.
func (s *Store) ListTenants(ctx context.Context, opt aicc.ListOptions) ([]*aicc.Tenant, string, error) {
	l, err := newListing(byCreated, opt)
	if err != nil {
		return nil, "", err
	}
	var rows []*tenantRow
	if err := l.apply(s.db.NewSelect().Model(&rows)).Scan(ctx); err != nil {
		return nil, "", wrap(err, "list tenants")
	}
	rows, next := cut(l, rows)
	return mapRows(rows, (*tenantRow).domain), next, nil
}
