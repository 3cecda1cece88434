"""Mediation (矛盾纠纷调处): disputes from first contact to a performed agreement."""
