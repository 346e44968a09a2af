/* Test-only stand-in for Windows' bcryptprimitives.dll, which Wine 8 (Debian 12) lacks.
 * Rust's std asks it for random bytes (ProcessPrng) to seed HashMap keys; every Windows 10
 * and later has the real DLL, so this file is built only by tests/windows/e2e.sh, placed
 * beside the exe under test, and never shipped (scripts/release.sh does not build it).
 * It forwards to advapi32's SystemFunction036 (RtlGenRandom), which Wine does have. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    /* RtlGenRandom takes a 32-bit length: fill larger requests in pieces. */
    while (length > 0) {
        ULONG piece = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, piece))
            return FALSE;
        data += piece;
        length -= piece;
    }
    return TRUE;
}
