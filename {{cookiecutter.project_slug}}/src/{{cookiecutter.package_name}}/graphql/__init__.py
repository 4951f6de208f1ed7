"""The GraphQL layer: schema, resolvers, per-request loaders and the HTTP endpoint."""
