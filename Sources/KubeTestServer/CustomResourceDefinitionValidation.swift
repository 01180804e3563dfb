import SluiceModel

/// The checks kube-apiserver makes when a CustomResourceDefinition is created or updated that
/// the test server repeats: the root `metadata` schema stays bare, and its CEL rules compile and
/// fit the cost budgets.
enum CustomResourceDefinitionValidation {
    static func validate(_ crd: JSONValue, info: ResourceInfo) throws(APIError) {
        var errors: [FieldError] = []
        for (base, schema) in schemasByPath(crd) {
            errors += metadataErrors(schema, base: base) + CELRuleBudget.errors(schema: schema, base: base)
        }
        guard errors.isEmpty else { throw .invalid(info, crd["metadata"]?["name"]?.string ?? "", errors) }
    }

    /// Each schema with the path the real server names it by: one that every version shares is
    /// lifted to `spec.validation`; otherwise each version's is its own.
    static func schemasByPath(_ crd: JSONValue) -> [(base: String, schema: JSONValue)] {
        let schemas = (crd["spec"]?["versions"]?.array ?? []).map { $0["schema"]?["openAPIV3Schema"] }
        if let first = schemas.first, let schema = first, schemas.allSatisfy({ $0 == first }) {
            return [("spec.validation.openAPIV3Schema", schema)]
        }
        return schemas.enumerated().compactMap { i, schema in schema.map { ("spec.versions[\(i)].schema.openAPIV3Schema", $0) } }
    }

    /// The root `metadata` schema may say nothing but `type: object` (and name/generateName).
    static func metadataErrors(_ schema: JSONValue, base: String) -> [FieldError] {
        guard var metadata = schema["properties"]?["metadata"] else { return [] }
        metadata["type"] = nil
        metadata["properties"]?["name"] = nil
        metadata["properties"]?["generateName"] = nil
        if metadata["properties"] == [:] { metadata["properties"] = nil }
        guard metadata != [:] else { return [] }
        return [FieldError(.forbidden, "\(base).properties[metadata]",
                           "must not specify anything other than name and generateName, but metadata is implicitly specified")]
    }
}
