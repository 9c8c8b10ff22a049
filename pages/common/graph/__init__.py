"""The Graph page's sections: the drawings (:mod:`.draw`) and the node table (:mod:`.nodes`)."""
