from govmesh_runtime.serve import serve
from policing.bootstrap import create_app
from policing.settings import get_settings

serve(create_app, get_settings())
