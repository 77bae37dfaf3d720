# An actor can be imported by its id:
terraform import authproxy_actor.billing act_2f9cQx7LkP3mZ

# or by its namespace and external id:
terraform import authproxy_actor.billing root.tenants.acme/billing-service
