package db

import (
	"database/sql"
	"errors"
	"fmt"
	"regexp"

	"github.com/aiccfb/aicc"
	"github.com/jackc/pgx/v5/pgconn"
)

// unique is a unique constraint whose violation the caller can fix, and the domain error it becomes.
type unique struct {
	constraint string // the Postgres constraint name
	columns    string // the columns, as SQLite's error message lists them
	code       string
	message    string
	field      string // the API field that holds the duplicate
	problem    string
}

var uniques = []unique{
	{"tenants_name_key", "tenants.name",
		aicc.ECONFLICT, "A tenant with this name exists.", "name", "is taken"},
	{"ous_tenant_name_key", "ous.tenant_id, ous.name",
		aicc.ECONFLICT, "An OU with this name exists.", "name", "is taken"},
	{"skill_queues_tenant_access_code_key", "skill_queues.tenant_id, skill_queues.access_code",
		aicc.ECONFLICT, "A skill queue with this access code exists.", "accessCode", "is taken"},
	{"service_calendars_tenant_name_key", "service_calendars.tenant_id, service_calendars.name",
		aicc.ECONFLICT, "A service calendar with this name exists.", "name", "is taken"},
	{"channels_tenant_name_key", "channels.tenant_id, channels.name",
		aicc.ECHANNELNAMETAKEN, "Another channel of this tenant has this name.", "name", "is taken"},
	// The claims: the same words whoever holds the claim, of this tenant or another.
	{"channels_app_claim_key", "channels.app_id",
		aicc.EAPPCONNECTED, aicc.MsgAppConnected, "appId", "is already connected to another channel"},
	{"pages_claim_key", "pages.page_id",
		aicc.EPAGECONNECTED, aicc.MsgPageConnected, "pageId", "is already connected to another channel"},
	{"pages_pkey", "pages.channel_id, pages.page_id",
		aicc.EPAGECONNECTED, "The Page is added to this channel already.", "pageId", "is added to this channel already"},
	{"system_certificates_sha256_key", "system_certificates.sha256",
		aicc.ECONFLICT, "This certificate is uploaded already.", "pem", "is uploaded already"},
}

var sqliteUniqueRE = regexp.MustCompile(`UNIQUE constraint failed: ([a-z0-9_.]+(?:, [a-z0-9_.]+)*)`)

// violatedUnique reports whether err is a unique violation, and names the constraint as Postgres does or its
// columns as SQLite does.
func violatedUnique(err error) (string, bool) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.ConstraintName, pgErr.Code == "23505"
	}
	if m := sqliteUniqueRE.FindStringSubmatch(err.Error()); m != nil {
		return m[1], true
	}
	return "", false
}

// uniqueViolation returns the domain error of a unique violation, or nil when err is not one.
func uniqueViolation(err error) *aicc.Error {
	name, ok := violatedUnique(err)
	if !ok {
		return nil
	}
	for _, u := range uniques {
		if name == u.constraint || name == u.columns {
			return &aicc.Error{Code: u.code, Message: u.message, Fields: map[string]string{u.field: u.problem}}
		}
	}
	return aicc.Errorf(aicc.ECONFLICT, "The resource exists already.")
}

// wrap returns err as a domain error when it is one or has a domain meaning, else wrapped with what failed.
// Driver messages never hold secret values: Bun sends secrets sealed, and Postgres keeps row values out of
// the error message (they are in the detail, which pgconn.PgError.Error leaves out).
func wrap(err error, op string) error {
	var e *aicc.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &e):
		return err
	}
	if e := uniqueViolation(err); e != nil {
		return e
	}
	return fmt.Errorf("db: %s: %w", op, err)
}

// notFound is the error of a missing row, and of a row that belongs to another tenant.
func notFound(what string) error { return aicc.Errorf(aicc.ENOTFOUND, "The %s does not exist.", what) }

// found turns sql.ErrNoRows into notFound(what).
func found(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return notFound(what)
	}
	return err
}

// affected returns notFound(what) when res changed no row.
func affected(res sql.Result, err error, what string) error {
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return notFound(what)
	}
	return nil
}
