package db

import (
	"context"
	"slices"

	"github.com/aiccfb/aicc"
	"github.com/uptrace/bun"
)

// CreateOU stores a new OU. An empty ID and a zero CreatedAt are filled in.
func (s *Store) CreateOU(ctx context.Context, o *aicc.OU) error {
	stamp(&o.ID, aicc.PrefixOU, &o.CreatedAt)
	_, err := s.db.NewInsert().Model(newOURow(o)).Exec(ctx)
	return wrap(err, "create OU")
}

// GetOU returns the tenant's OU with the given ID.
func (s *Store) GetOU(ctx context.Context, tenantID, id string) (*aicc.OU, error) {
	var r ouRow
	if err := getInTenant(ctx, s.db, &r, tenantID, id); err != nil {
		return nil, wrap(found(err, "OU"), "get OU")
	}
	return r.domain(), nil
}

// ListOUs lists the tenant's OUs in creation order.
func (s *Store) ListOUs(ctx context.Context, tenantID string, opt aicc.ListOptions) ([]*aicc.OU, string, error) {
	var rows []*ouRow
	l, err := listInTenant(ctx, s.db, &rows, tenantID, opt)
	if err != nil {
		return nil, "", wrap(err, "list OUs")
	}
	rows, next := cut(l, rows)
	return mapRows(rows, (*ouRow).domain), next, nil
}

// CreateSkillQueue stores a new skill queue. An empty ID and a zero CreatedAt are filled in.
func (s *Store) CreateSkillQueue(ctx context.Context, q *aicc.SkillQueue) error {
	stamp(&q.ID, aicc.PrefixQueue, &q.CreatedAt)
	_, err := s.db.NewInsert().Model(newQueueRow(q)).Exec(ctx)
	return wrap(err, "create skill queue")
}

// GetSkillQueue returns the tenant's skill queue with the given ID.
func (s *Store) GetSkillQueue(ctx context.Context, tenantID, id string) (*aicc.SkillQueue, error) {
	var r queueRow
	if err := getInTenant(ctx, s.db, &r, tenantID, id); err != nil {
		return nil, wrap(found(err, "skill queue"), "get skill queue")
	}
	return r.domain(), nil
}

// ListSkillQueues lists the tenant's skill queues in creation order.
func (s *Store) ListSkillQueues(ctx context.Context, tenantID string, opt aicc.ListOptions) ([]*aicc.SkillQueue, string, error) {
	var rows []*queueRow
	l, err := listInTenant(ctx, s.db, &rows, tenantID, opt)
	if err != nil {
		return nil, "", wrap(err, "list skill queues")
	}
	rows, next := cut(l, rows)
	return mapRows(rows, (*queueRow).domain), next, nil
}

// CreateServiceCalendar stores a new service calendar. An empty ID and a zero CreatedAt are filled in.
func (s *Store) CreateServiceCalendar(ctx context.Context, c *aicc.ServiceCalendar) error {
	stamp(&c.ID, aicc.PrefixCalendar, &c.CreatedAt)
	_, err := s.db.NewInsert().Model(newCalendarRow(c)).Exec(ctx)
	return wrap(err, "create service calendar")
}

// GetServiceCalendar returns the tenant's service calendar with the given ID.
func (s *Store) GetServiceCalendar(ctx context.Context, tenantID, id string) (*aicc.ServiceCalendar, error) {
	var r calendarRow
	if err := getInTenant(ctx, s.db, &r, tenantID, id); err != nil {
		return nil, wrap(found(err, "service calendar"), "get service calendar")
	}
	return r.domain(), nil
}

// ListServiceCalendars lists the tenant's service calendars in creation order.
func (s *Store) ListServiceCalendars(ctx context.Context, tenantID string, opt aicc.ListOptions) ([]*aicc.ServiceCalendar, string, error) {
	var rows []*calendarRow
	l, err := listInTenant(ctx, s.db, &rows, tenantID, opt)
	if err != nil {
		return nil, "", wrap(err, "list service calendars")
	}
	rows, next := cut(l, rows)
	return mapRows(rows, (*calendarRow).domain), next, nil
}

// GetRefs returns the tenant's OUs, skill queues and service calendars with the given IDs, in one query per
// kind that has IDs; an ID that names none of the tenant's is absent from its map.
func (s *Store) GetRefs(ctx context.Context, tenantID string, ouIDs, queueIDs, calendarIDs []string) (aicc.Refs, error) {
	refs := aicc.Refs{
		OUs: map[string]*aicc.OU{}, SkillQueues: map[string]*aicc.SkillQueue{}, Calendars: map[string]*aicc.ServiceCalendar{},
	}
	err := getRefs(ctx, s.db, tenantID, ouIDs, refs.OUs, func(r *ouRow) (string, *aicc.OU) { return r.ID, r.domain() })
	if err == nil {
		err = getRefs(ctx, s.db, tenantID, queueIDs, refs.SkillQueues,
			func(r *queueRow) (string, *aicc.SkillQueue) { return r.ID, r.domain() })
	}
	if err == nil {
		err = getRefs(ctx, s.db, tenantID, calendarIDs, refs.Calendars,
			func(r *calendarRow) (string, *aicc.ServiceCalendar) { return r.ID, r.domain() })
	}
	return refs, wrap(err, "get references")
}

// getRefs puts the tenant's rows with the given IDs into m, by ID, with one query; IDs longer than any ID name
// nothing and are not looked up.
func getRefs[R, T any](ctx context.Context, idb bun.IDB, tenantID string, ids []string, m map[string]T, entry func(*R) (string, T)) error {
	ids = slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return len(id) > aicc.MaxIDLength })
	if len(ids) == 0 {
		return nil
	}
	var rows []*R
	if err := idb.NewSelect().Model(&rows).Where("tenant_id = ? AND id IN (?)", tenantID, bun.List(ids)).Scan(ctx); err != nil {
		return err
	}
	for _, r := range rows {
		id, v := entry(r)
		m[id] = v
	}
	return nil
}

// getInTenant scans the row of model's table with the given ID in the tenant.
func getInTenant(ctx context.Context, idb bun.IDB, model any, tenantID, id string) error {
	return idb.NewSelect().Model(model).Where("id = ? AND tenant_id = ?", id, tenantID).Scan(ctx)
}

// listInTenant scans one page of the tenant's rows of model's table, in creation order, into rows.
func listInTenant(ctx context.Context, idb bun.IDB, rows any, tenantID string, opt aicc.ListOptions) (*listing, error) {
	l, err := newListing(byCreated, opt)
	if err != nil {
		return nil, err
	}
	return l, l.apply(idb.NewSelect().Model(rows).Where("tenant_id = ?", tenantID)).Scan(ctx)
}
