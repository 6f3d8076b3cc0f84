package kern

import "syscall"

// osYield gives up the OS thread's core to any other runnable thread, so
// that spinning does not starve a helper on an oversubscribed machine.
func osYield() { syscall.Syscall(syscall.SYS_SCHED_YIELD, 0, 0, 0) }
