"""Schema-per-tenant: tenant ids and schemas, the registry, which tenants have
work pending, and the runner that migrates them."""
