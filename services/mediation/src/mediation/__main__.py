from govmesh_runtime.serve import serve
from mediation.bootstrap import create_app
from mediation.settings import get_settings

serve(create_app, get_settings())
