package main

// API tokens on the server: "aicc tokens create", "aicc tokens list" and "aicc tokens revoke", straight on the
// application database (AICC_DATABASE_URL), for the operator who holds no token yet or has lost one.

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/db"
)

const tokensUsage = "usage: aicc tokens create --tenant ID --role ROLE [--name NAME] [--expires-in DURATION] | " +
	"aicc tokens list [--tenant ID] | aicc tokens revoke ID"

// runTokens runs "aicc tokens create|list|revoke".
func runTokens(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return usageError(stderr, tokensUsage)
	}
	switch args[0] {
	case "create":
		return createToken(ctx, args[1:], stdout, stderr)
	case "list":
		return listTokens(ctx, args[1:], stdout, stderr)
	case "revoke":
		return revokeToken(ctx, args[1:], stdout, stderr)
	default:
		return usageError(stderr, tokensUsage)
	}
}

// createToken is "aicc tokens create": it prints the new token's value, the only time it is shown.
func createToken(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("tokens create", stderr)
	tenant := fs.String("tenant", "", "ID of the token's tenant (not for sysadmin)")
	role := fs.String("role", "", "tenant-admin, tenant-viewer or sysadmin (required)")
	name := fs.String("name", "cli", "a name for the token, to tell tokens apart")
	expiresIn := fs.Duration("expires-in", 0, "how long the token is valid, e.g. 720h (default: it does not expire)")
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	r := aicc.Role(*role)
	var problem string
	switch {
	case !r.Valid():
		problem = fmt.Sprintf("--role must be tenant-admin, tenant-viewer or sysadmin, got %q", *role)
	case r == aicc.RoleSysadmin && *tenant != "":
		problem = "--role sysadmin takes no --tenant"
	case r != aicc.RoleSysadmin && *tenant == "":
		problem = "--tenant is required for --role " + *role
	case len(*name) > 100:
		problem = "--name must have at most 100 characters"
	case *expiresIn < 0:
		problem = "--expires-in must be positive"
	}
	if problem != "" {
		fmt.Fprintf(stderr, "aicc tokens create: %s\n", problem)
		fs.Usage()
		return exitUsage
	}
	return withStore(ctx, "tokens create", stderr, func(store *db.Store) error {
		if r != aicc.RoleSysadmin {
			if _, err := store.GetTenant(ctx, *tenant); err != nil {
				if aicc.ErrorCode(err) == aicc.ENOTFOUND {
					return fmt.Errorf("tenant %q does not exist (create it with: aicc tenants create --name NAME)", *tenant)
				}
				return err
			}
		}
		now := time.Now().UTC().Truncate(time.Microsecond) // as stored, so that the audit entry shows the stored expiry
		secret, tok := aicc.NewAPIToken(*tenant, r, *name, now)
		if *expiresIn > 0 {
			tok.ExpiresAt = now.Add(*expiresIn)
		}
		if err := tok.Validate(); err != nil {
			return err
		}
		if err := store.Audited(ctx, tokenAudit(tok, "aicc tokens create"), func(ctx context.Context) error {
			return store.CreateToken(ctx, tok)
		}); err != nil {
			return err
		}
		fmt.Fprintln(stdout, secret)
		return nil
	})
}

// tokenAudit is the audit entry of an API token created by an operator's command: a system entry with the
// token's ID, tenant, role, name and expiry, never its value.
func tokenAudit(tok *aicc.APIToken, command string) *aicc.AuditEntry {
	e := &aicc.AuditEntry{
		Actor: aicc.CLIActor(command), Action: aicc.AuditTokenCreate,
		Target: aicc.AuditTarget{Type: aicc.TargetToken, ID: tok.ID},
		Details: map[string]string{
			aicc.DetailTenantID: tok.TenantID, aicc.DetailRole: string(tok.Role), aicc.DetailName: tok.Name,
		},
	}
	if !tok.ExpiresAt.IsZero() {
		e.Details[aicc.DetailExpiresAt] = tok.ExpiresAt.UTC().Format(time.RFC3339Nano)
	}
	return e
}

// listTokens is "aicc tokens list": every token (or one tenant's), revoked and expired ones included, as a
// table; never a value.
func listTokens(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("tokens list", stderr)
	tenant := fs.String("tenant", "", "list only this tenant's tokens (default: every token, the sysadmins' included)")
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	scope := *tenant
	if scope == "" {
		scope = aicc.AnyTenant
	}
	return withStore(ctx, "tokens list", stderr, func(store *db.Store) error {
		return printTokens(ctx, store, scope, time.Now(), stdout)
	})
}

// printTokens writes the tokens of tenantID as a table, page by page.
func printTokens(ctx context.Context, store aicc.TokenStore, tenantID string, now time.Time, w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTENANT\tROLE\tNAME\tSTATUS\tCREATED\tEXPIRES\tLAST USED\tREVOKED")
	opt := aicc.ListOptions{Limit: aicc.MaxListLimit}
	for {
		page, next, err := store.ListTokens(ctx, tenantID, opt)
		if err != nil {
			return err
		}
		for _, t := range page {
			tenant := t.TenantID
			if tenant == "" {
				tenant = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, tenant, t.Role, oneLine(t.Name), t.Status(now),
				cliTime(t.CreatedAt), cliTime(t.ExpiresAt), cliTime(t.LastUsedAt), cliTime(t.RevokedAt))
		}
		if next == "" {
			break
		}
		opt.Cursor = next
	}
	return tw.Flush()
}

// oneLine keeps a name on its row of the table: a name comes from an API caller and may hold tabs or newlines.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// cliTime shows a time to the second in UTC, "-" for none.
func cliTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// revokeToken is "aicc tokens revoke ID": from then on no process accepts the token. Revoking a revoked token
// again says so and succeeds.
func revokeToken(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("tokens revoke", stderr)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 1 || strings.TrimSpace(fs.Arg(0)) == "" {
		return usageError(stderr, "usage: aicc tokens revoke ID (the token's ID, tok_…, as aicc tokens list shows it)")
	}
	id := fs.Arg(0)
	if strings.HasPrefix(id, aicc.TokenPrefix) {
		// A token's value, pasted by mistake: not echoed, and not looked up either.
		fmt.Fprintln(stderr, "aicc tokens revoke: give the token's ID (tok_…), not its value; aicc tokens list shows the IDs")
		return exitUsage
	}
	return withStore(ctx, "tokens revoke", stderr, func(store *db.Store) error {
		const command = "aicc tokens revoke"
		entry := &aicc.AuditEntry{
			Actor: aicc.CLIActor(command), Action: aicc.AuditTokenRevoke, Target: aicc.AuditTarget{Type: aicc.TargetToken, ID: id},
		}
		tok, revoked, err := aicc.RevokeToken(ctx, store, entry, aicc.AnyTenant, id, time.Now().UTC())
		switch {
		case aicc.ErrorCode(err) == aicc.ENOTFOUND:
			return fmt.Errorf("no token has the ID %q (aicc tokens list shows them)", id)
		case err != nil:
			return err
		case !revoked:
			fmt.Fprintf(stdout, "%s was revoked already, at %s\n", id, cliTime(tok.RevokedAt))
			return nil
		}
		fmt.Fprintf(stdout, "%s revoked: every process refuses it from now on\n", id)
		return nil
	})
}
