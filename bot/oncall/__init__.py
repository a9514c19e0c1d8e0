"""On-call: the rota, pages to the technician on call, escalation, acknowledge and resolve."""
