package raft

// SetLeaseMutation breaks one rule of the lease, by name, for the
// simulation's mutation checks (lease_sim_test.go); "" restores it. It
// exists only in this package's test binary.
func SetLeaseMutation(name string) {
	leaseMutation = map[string]leaseMut{
		"":                    mutNone,
		"no-margin":           mutNoMargin,
		"rearm":               mutRearmOnAbort,
		"receipt-time":        mutReceiptTime,
		"no-conf-reset":       mutNoConfReset,
		"no-quarantine":       mutNoQuarantine,
		"ticks-only":          mutTicksOnly,
		"etcd":                mutEtcd,
		"follower-ticks-only": mutFollowerTicksOnly,
		"recent-active":       mutRecentActive,
		"promise-per-term":    mutPromisePerTerm,
	}[name]
}
