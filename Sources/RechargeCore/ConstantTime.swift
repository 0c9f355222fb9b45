/// Byte comparison whose running time does not depend on where the inputs differ, so a forger cannot learn
/// a valid MAC (or a session's CSRF token, a code's hash) one byte at a time from response timings.
public enum ConstantTime {
    public static func equal(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        // Lengths are public (a SHA-256 MAC is always 32 bytes), so returning early on them leaks nothing.
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}
