/* placeholders.c - temporary stubs so the library links while the owning
 * modules are being written.  Each owner deletes its stub from here. */
#include "internal.h"

