#include <sqlite3.h>

/// SQLITE_TRANSIENT is a macro around a cast that Swift cannot import.
static inline sqlite3_destructor_type grove_sqlite_transient(void) { return SQLITE_TRANSIENT; }
