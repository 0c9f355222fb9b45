import Foundation
import RechargeCore
import Yams

/// Reads a catalog file (YAML, or JSON, which is YAML too) into a checked ``Catalog``. Unknown fields are
/// errors, as in API bodies: a misspelt `validityDay` must not silently sell a pack without validity.
public enum CatalogFile {
    public static func parse(_ text: String) throws(RechargeError) -> Catalog {
        let tree: Any?
        do {
            tree = try Yams.load(yaml: text)
        } catch {
            throw .invalidCatalog("not valid YAML or JSON: \(error)")
        }
        guard let root = tree as? [String: Any] else { throw .invalidCatalog("the file must be a mapping with 'products'") }
        try checkFields(root, path: "")
        let definition: CatalogDefinition
        do {
            definition = try YAMLDecoder().decode(CatalogDefinition.self, from: text)
        } catch let error as DecodingError {
            throw .invalidCatalog(describe(error))
        } catch {
            throw .invalidCatalog("\(error)")
        }
        return try Catalog(definition)
    }

    /// The demo catalog shipped with the server (`serve --demo`, `catalog demo`).
    public static func demoText() throws -> String {
        guard let url = Bundle.module.url(forResource: "demo-catalog", withExtension: "yaml") else {
            throw RechargeError.invalidCatalog("the bundled demo catalog is missing")
        }
        return try String(contentsOf: url, encoding: .utf8)
    }

    private static func checkFields(_ object: [String: Any], path: String) throws(RechargeError) {
        guard let allowed = CatalogDefinition.allowedFields[path] else { return }
        for (key, value) in object {
            let child = path.isEmpty ? key : "\(path).\(key)"
            guard allowed.contains(key) else { throw .invalidCatalog("unknown field '\(child)'") }
            if let nested = value as? [String: Any] {
                try checkFields(nested, path: child)
            } else if let list = value as? [Any] {
                for element in list { if let nested = element as? [String: Any] { try checkFields(nested, path: child) } }
            }
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context): return "field '\(path(context.codingPath + [key]))' is required"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "field '\(path(context.codingPath))': \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
