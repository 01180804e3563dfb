import SluiceModel

/// The checks kube-apiserver makes when a CustomResourceDefinition is created or updated that
/// the test server repeats: its CEL rules compile and fit the cost budgets.
enum CustomResourceDefinitionValidation {
    static func validate(_ crd: JSONValue, info: ResourceInfo) throws(APIError) {
        let versions = crd["spec"]?["versions"]?.array ?? []
        let schemas = versions.map { $0["schema"]?["openAPIV3Schema"] }
        var errors: [FieldError] = []
        // The real server lifts a schema that every version shares to `spec.validation`, and
        // names it there in its messages.
        if let first = schemas.first, let schema = first, schemas.allSatisfy({ $0 == first }) {
            errors = CELRuleBudget.errors(schema: schema, base: "spec.validation.openAPIV3Schema")
        } else {
            for (i, schema) in schemas.enumerated() {
                guard let schema else { continue }
                errors += CELRuleBudget.errors(schema: schema, base: "spec.versions[\(i)].schema.openAPIV3Schema")
            }
        }
        // The root `metadata` schema may say nothing but `type: object` (and name/generateName).
        for (i, schema) in schemas.enumerated() {
            guard var metadata = schema?["properties"]?["metadata"] else { continue }
            metadata["type"] = nil
            metadata["properties"]?["name"] = nil
            metadata["properties"]?["generateName"] = nil
            if metadata["properties"] == [:] { metadata["properties"] = nil }
            if metadata != [:] {
                let base = schemas.count == 1 || schemas.allSatisfy({ $0 == schemas[0] }) ? "spec.validation.openAPIV3Schema"
                                                                                         : "spec.versions[\(i)].schema.openAPIV3Schema"
                errors.append(FieldError(.forbidden, "\(base).properties[metadata]",
                                         "must not specify anything other than name and generateName, but metadata is implicitly specified"))
                break
            }
        }
        guard errors.isEmpty else { throw .invalid(info, crd["metadata"]?["name"]?.string ?? "", errors) }
    }
}
