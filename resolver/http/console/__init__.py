"""The web console for enterprises and operators, and the public pages a scan opens."""
