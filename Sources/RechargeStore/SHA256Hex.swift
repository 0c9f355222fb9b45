import Crypto

/// Lower-case hex SHA-256 of a text: how request fingerprints and API key secrets are stored. Runs twice
/// per top-up (the key check and the fingerprint), so the hex is written from a table, not with
/// `String(format:)`, which cost more than the hash itself.
func sha256Hex(_ text: String) -> String {
    let digest = SHA256.hash(data: Array(text.utf8))
    let hex: StaticString = "0123456789abcdef"
    return String(unsafeUninitializedCapacity: SHA256.byteCount * 2) { buffer in
        hex.withUTF8Buffer { hex in
            for (index, byte) in digest.enumerated() {
                buffer[2 * index] = hex[Int(byte >> 4)]
                buffer[2 * index + 1] = hex[Int(byte & 0x0F)]
            }
        }
        return SHA256.byteCount * 2
    }
}
