import Foundation
import _CryptoExtras

/// Loads the RSA keys providers hand out: PEM with its `-----BEGIN … KEY-----` armour, or — as Alipay's
/// console and WeChat Pay's merchant platform show them — the bare base64 of the DER body on one line.
public enum ProviderRSAKey {
    public static func publicKey(_ text: String, provider: PaymentProvider) throws(PaymentProviderError) -> _RSA.Signing.PublicKey {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        do {
            if trimmed.hasPrefix("-----BEGIN") {
                return try _RSA.Signing.PublicKey(pemRepresentation: trimmed)
            }
            return try _RSA.Signing.PublicKey(derRepresentation: try der(trimmed, provider: provider))
        } catch let error as PaymentProviderError {
            throw error
        } catch {
            throw .invalidKey(provider, reason: "not an RSA public key of 2048 bits or more: \(error)")
        }
    }

    public static func privateKey(_ text: String, provider: PaymentProvider) throws(PaymentProviderError) -> _RSA.Signing.PrivateKey {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        do {
            if trimmed.hasPrefix("-----BEGIN") {
                return try _RSA.Signing.PrivateKey(pemRepresentation: trimmed)
            }
            return try _RSA.Signing.PrivateKey(derRepresentation: try der(trimmed, provider: provider))
        } catch let error as PaymentProviderError {
            throw error
        } catch {
            throw .invalidKey(provider, reason: "not an RSA private key of 2048 bits or more: \(error)")
        }
    }

    private static func der(_ base64: String, provider: PaymentProvider) throws(PaymentProviderError) -> Data {
        let compact = base64.filter { !$0.isWhitespace }
        guard let der = Data(base64Encoded: compact), !der.isEmpty else {
            throw .invalidKey(provider, reason: "neither PEM nor base64 DER")
        }
        return der
    }
}
