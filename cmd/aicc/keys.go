package main

// Master-key rotation: the keyring every process builds from the configuration and the stored fingerprint
// key, "aicc keys rotate" and "aicc keys status".

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/db"
)

// exitStale is the exit code of "aicc keys status" and "aicc keys rotate" when secrets are still sealed under a
// master key other than the current one.
const exitStale = 3

// DefaultRotateBatch is how many secrets "aicc keys rotate" re-seals per transaction: small enough that a
// transaction holds its rows for milliseconds, large enough that 100,000 secrets take 200 transactions.
const DefaultRotateBatch = 500

// loadKeyring returns the keyring of the configured master keys with the stored fingerprint key. The first
// process to start after the system_keys migration stores it: the fingerprint key derived from the master key
// that seals most stored secrets (the current key in a new database), because until then each fingerprint was
// made with the key derived from the master key that sealed its secret. From then on fingerprints do not
// depend on the master key, and "aicc keys rotate" re-seals the fingerprint key like any secret.
func loadKeyring(ctx context.Context, cfg Config, store aicc.KeyStore, now time.Time) (*aicc.Keyring, error) {
	keyring, err := cfg.Keyring()
	if err != nil {
		return nil, err
	}
	stored, err := store.SystemKey(ctx, aicc.SecretFingerprintKey)
	if aicc.ErrorCode(err) == aicc.ENOTFOUND {
		var from string
		if from, err = fingerprintSource(ctx, store, keyring); err != nil {
			return nil, err
		}
		var sealed aicc.SealedSecret
		if sealed, err = keyring.SealFingerprintKey(from, now); err != nil {
			return nil, err
		}
		stored, err = store.AddSystemKey(ctx, aicc.SecretFingerprintKey, sealed)
	}
	if err != nil {
		return nil, fmt.Errorf("fingerprint key: %w", err)
	}
	if !slices.Contains(keyring.KeyIDs(), stored.KeyID) {
		return nil, fmt.Errorf("the fingerprint key is sealed under master key %s, which the configuration does not "+
			"hold (configured: %s): set it as AICC_MASTER_KEY or AICC_MASTER_KEY_PREVIOUS",
			stored.KeyID, strings.Join(keyring.KeyIDs(), ", "))
	}
	return keyring.WithFingerprintKey(stored)
}

// fingerprintSource returns the ID of the configured master key that seals most stored secrets, the current
// one when none does (a tie goes to the key listed first).
func fingerprintSource(ctx context.Context, store aicc.KeyStore, keyring *aicc.Keyring) (string, error) {
	counts, err := store.CountSealed(ctx)
	if err != nil {
		return "", err
	}
	per := map[string]int{}
	for _, c := range counts {
		per[c.KeyID] += c.Count
	}
	ids := keyring.KeyIDs()
	best := ids[0]
	for _, id := range ids[1:] {
		if per[id] > per[best] {
			best = id
		}
	}
	return best, nil
}

// runKeys runs "aicc keys rotate" and "aicc keys status".
func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const usageLine = "usage: aicc keys rotate [--batch-size N] | aicc keys status"
	if len(args) == 0 {
		return usageError(stderr, usageLine)
	}
	switch args[0] {
	case "rotate":
		fs := newFlagSet("keys rotate", stderr)
		batch := fs.Int("batch-size", DefaultRotateBatch, "secrets re-sealed per transaction (1 to 10000)")
		if code, ok := parseFlags(fs, args[1:], stderr); !ok {
			return code
		}
		if *batch < 1 || *batch > 10000 {
			fmt.Fprintf(stderr, "aicc keys rotate: --batch-size must be between 1 and 10000, got %d\n", *batch)
			return exitUsage
		}
		return withDatabase(ctx, "keys rotate", stderr, true, func(cfg Config, store *db.Store) (int, error) {
			return rotateKeys(ctx, cfg, store, *batch, stdout)
		})
	case "status":
		if code, ok := parseFlags(newFlagSet("keys status", stderr), args[1:], stderr); !ok {
			return code
		}
		return withDatabase(ctx, "keys status", stderr, true, func(cfg Config, store *db.Store) (int, error) {
			return keysStatus(ctx, cfg, store, stdout)
		})
	default:
		return usageError(stderr, usageLine)
	}
}

// rotateKeys re-seals every stored secret that is not sealed under the current master key, batch by batch,
// and prints its progress on w. Each batch commits on its own, so an interrupted run leaves every secret
// sealed under the old key or the new one, and the next run finishes the rest.
func rotateKeys(ctx context.Context, cfg Config, store aicc.KeyStore, batch int, w io.Writer) (int, error) {
	keyring, err := loadKeyring(ctx, cfg, store, time.Now().UTC())
	if err != nil {
		return 0, err
	}
	current := keyring.KeyIDs()[0]
	counts, err := store.CountSealed(ctx)
	if err != nil {
		return 0, err
	}
	if unknown := unknownKeys(counts, keyring); len(unknown) > 0 {
		return 0, fmt.Errorf("secrets are sealed under master keys %s, which the configuration does not hold "+
			"(configured: %s); nothing was re-sealed: add the missing keys to AICC_MASTER_KEY_PREVIOUS",
			strings.Join(unknown, ", "), strings.Join(keyring.KeyIDs(), ", "))
	}
	total := stale(counts, current)
	fmt.Fprintf(w, "keys rotate: %d secrets to re-seal under master key %s, %d per transaction\n", total, current, batch)
	done := 0
	for _, kind := range aicc.SecretKinds {
		b := aicc.ResealBatch{KeyID: current, Limit: batch, Reseal: keyring.Reseal}
		for {
			next, n, err := store.ResealSecrets(ctx, kind, b)
			if err != nil {
				return 0, fmt.Errorf("after %d of %d secrets: %w", done, total, err)
			}
			done += n
			if n > 0 {
				fmt.Fprintf(w, "keys rotate: %d/%d re-sealed (%s)\n", done, total, kind)
			}
			if next == "" {
				break
			}
			b.After = next
		}
	}
	counts, err = store.CountSealed(ctx)
	if err != nil {
		return 0, err
	}
	if left := stale(counts, current); left > 0 {
		// A process that still seals under an old key (started without the new one) wrote these meanwhile.
		fmt.Fprintf(w, "keys rotate: %d re-sealed; %d secrets were written under another key meanwhile: "+
			"check that every process runs with the new AICC_MASTER_KEY, then run aicc keys rotate again\n", done, left)
		return exitStale, nil
	}
	fmt.Fprintf(w, "keys rotate: done: %d re-sealed; every secret is sealed under master key %s\n", done, current)
	return exitOK, nil
}

// keysStatus prints how many secrets each master key seals, by kind, and returns exitStale when any is
// sealed under a key other than the current one.
func keysStatus(ctx context.Context, cfg Config, store aicc.KeyStore, w io.Writer) (int, error) {
	keyring, err := cfg.Keyring()
	if err != nil {
		return 0, err
	}
	ids := keyring.KeyIDs()
	current := ids[0]
	counts, err := store.CountSealed(ctx)
	if err != nil {
		return 0, err
	}
	per := map[string]map[aicc.SecretKind]int{}
	for _, id := range ids {
		per[id] = map[aicc.SecretKind]int{}
	}
	for _, c := range counts {
		if per[c.KeyID] == nil {
			per[c.KeyID] = map[aicc.SecretKind]int{}
			ids = append(ids, c.KeyID)
		}
		per[c.KeyID][c.Kind] += c.Count
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "KEY ID\tCONFIGURED AS")
	for _, kind := range aicc.SecretKinds {
		fmt.Fprintf(tw, "\t%s", strings.ToUpper(string(kind)))
	}
	fmt.Fprintln(tw, "\tTOTAL")
	for i, id := range ids {
		role := "previous"
		switch {
		case i == 0:
			role = "current"
		case !slices.Contains(keyring.KeyIDs(), id):
			role = "not configured"
		}
		fmt.Fprintf(tw, "%s\t%s", id, role)
		sum := 0
		for _, kind := range aicc.SecretKinds {
			fmt.Fprintf(tw, "\t%d", per[id][kind])
			sum += per[id][kind]
		}
		fmt.Fprintf(tw, "\t%d\n", sum)
	}
	if err := tw.Flush(); err != nil {
		return 0, err
	}
	if left := stale(counts, current); left > 0 {
		fmt.Fprintf(w, "%d secrets are sealed under another master key than the current one %s: run aicc keys rotate\n", left, current)
		return exitStale, nil
	}
	fmt.Fprintf(w, "every secret is sealed under the current master key %s: no other key is needed\n", current)
	return exitOK, nil
}

// unknownKeys returns the key IDs that seal stored secrets but are not in the keyring.
func unknownKeys(counts []aicc.SealedCount, keyring *aicc.Keyring) []string {
	var unknown []string
	for _, c := range counts {
		if !slices.Contains(keyring.KeyIDs(), c.KeyID) && !slices.Contains(unknown, c.KeyID) {
			unknown = append(unknown, c.KeyID)
		}
	}
	return unknown
}

// stale counts the secrets sealed under a key other than current.
func stale(counts []aicc.SealedCount, current string) int {
	n := 0
	for _, c := range counts {
		if c.KeyID != current {
			n += c.Count
		}
	}
	return n
}
