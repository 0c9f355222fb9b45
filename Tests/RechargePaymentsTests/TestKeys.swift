import _CryptoExtras

/// RSA keys generated once per test run: 2048-bit generation costs tens of milliseconds, and no test
/// depends on a key being fresh, only on the provider key and a stranger's key being different.
enum TestKeys {
    static let provider = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let merchant = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let stranger = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
}
