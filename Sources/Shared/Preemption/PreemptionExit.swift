/// The exit-code contract between a worker and whatever restarts it.
public enum PreemptionExit {
    /// A worker that left because of a preemption notice exits with 75 (`EX_TEMPFAIL` in
    /// sysexits.h): the failure is temporary and the same command may be retried on another
    /// machine. Supervisors should restart it elsewhere rather than report a crash.
    public static let code: Int32 = 75
}
